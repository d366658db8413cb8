package node

//go:generate go run ./internal/configgen

import (
	"encoding"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// templateHeader opens the config file `enxame init` writes.
const templateHeader = `# enxame configuration. Durations are written like 30s, 5m, 1h; sizes
# like 500MB or 10GiB. Every field may be removed: a missing field takes
# its default, the value written here. 'enxame config set KEY VALUE'
# edits this file; 'enxame config show' prints the effective config.
# The environment overrides a few keys (see 'enxame config --help').
`

// templateWidth is the width comments are wrapped to.
const templateWidth = 76

// ConfigTemplate is the commented config file `enxame init` writes: every
// key of Config with its default and, above it, its doc comment (from
// configdoc.go, generated from the struct's comments). It decodes to
// DefaultConfig.
func ConfigTemplate() string {
	var b strings.Builder
	b.WriteString(templateHeader)
	writeTemplate(&b, reflect.ValueOf(DefaultConfig()), "")
	return b.String()
}

var yamlMarshaler = reflect.TypeFor[yaml.Marshaler]()
var textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()

// isSection reports whether values of t are written as a nested mapping.
func isSection(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && !t.Implements(yamlMarshaler) && !t.Implements(textMarshaler)
}

// yamlKey is the config-file key of f and whether it has omitempty; "" for
// a field not in the file.
func yamlKey(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	tag := f.Tag.Get("yaml")
	name, opts, _ := strings.Cut(tag, ",")
	if name == "-" {
		return "", false
	}
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name, strings.Contains(opts, "omitempty")
}

// fieldDoc is the doc comment of field f of t, or else of its type, with
// a leading Go field name replaced by key.
func fieldDoc(t reflect.Type, f reflect.StructField, key string) string {
	doc := configDocs[t.PkgPath()+"."+t.Name()+"."+f.Name]
	if doc == "" && f.Type.Name() != "" {
		doc = configDocs[f.Type.PkgPath()+"."+f.Type.Name()]
	}
	if rest, ok := strings.CutPrefix(doc, f.Name+" "); ok {
		doc = key + " " + rest
	}
	return doc
}

func writeTemplate(b *strings.Builder, v reflect.Value, indent string) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		key, omitEmpty := yamlKey(f)
		if key == "" {
			continue
		}
		doc := fieldDoc(t, f, key)
		if strings.Contains(doc, "Deprecated:") {
			continue
		}
		if indent == "" || isSection(f.Type) {
			b.WriteString("\n")
		}
		writeComment(b, indent, doc)
		fv := v.Field(i)
		switch {
		case isSection(f.Type):
			b.WriteString(indent + key + ":\n")
			writeTemplate(b, fv, indent+"  ")
		case fv.Kind() == reflect.Slice && fv.Len() > 0:
			b.WriteString(indent + key + ":\n")
			for j := range fv.Len() {
				b.WriteString(indent + "  - " + scalar(fv.Index(j).Interface()) + "\n")
			}
		case fv.Kind() == reflect.Slice:
			comment := ""
			if omitEmpty && fv.IsNil() {
				comment = "# "
			}
			b.WriteString(indent + comment + key + ": []\n")
		default:
			b.WriteString(indent + key + ": " + scalar(fv.Interface()) + "\n")
		}
	}
}

// scalar is v as a one-line YAML value.
func scalar(v any) string {
	out, err := yaml.Marshal(v)
	if err != nil {
		panic("node: config template: " + err.Error()) // a config type YAML cannot encode is a bug
	}
	return strings.TrimSuffix(string(out), "\n")
}

// writeComment writes doc as # lines wrapped to templateWidth.
func writeComment(b *strings.Builder, indent, doc string) {
	for para := range strings.SplitSeq(doc, "\n\n") {
		line := indent + "#"
		for _, w := range strings.Fields(para) {
			if len(line)+1+len(w) > templateWidth && line != indent+"#" {
				b.WriteString(line + "\n")
				line = indent + "#"
			}
			line += " " + w
		}
		if line != indent+"#" {
			b.WriteString(line + "\n")
		}
	}
}
