package node

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrUnknownKey is wrapped by the errors of ConfigValue, SetConfig and
// ApplyEnv for a key that is not in the config file.
var ErrUnknownKey = errors.New("node: unknown config key")

// EnvOverrides are the environment variables that override a config key
// (after the file, before flags): the few a deployment sets per machine.
// A list takes a comma-separated value.
var EnvOverrides = []struct{ Var, Key string }{
	{"ENXAME_LISTEN", "listen"},
	{"ENXAME_BOOTSTRAP", "bootstrap"},
	{"ENXAME_API", "api.listen"},
	{"ENXAME_GATEWAY", "gateway.listen"},
}

// ConfigKeys lists every key of the config file, dotted ("gateway.listen"),
// in file order.
func ConfigKeys() []string {
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			key, _ := yamlKey(f)
			if key == "" {
				continue
			}
			if isSection(f.Type) {
				walk(f.Type, prefix+key+".")
				continue
			}
			keys = append(keys, prefix+key)
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return keys
}

// lookup returns the field of v (a Config) at the dotted key.
func lookup(v reflect.Value, key string) (reflect.Value, error) {
	if key == "" {
		return reflect.Value{}, fmt.Errorf("%w: empty key", ErrUnknownKey)
	}
	for seg := range strings.SplitSeq(key, ".") {
		if v.Kind() != reflect.Struct || !isSection(v.Type()) {
			return reflect.Value{}, fmt.Errorf("%w %q", ErrUnknownKey, key)
		}
		found := false
		for i := range v.NumField() {
			if k, _ := yamlKey(v.Type().Field(i)); k != "" && k == seg {
				v, found = v.Field(i), true
				break
			}
		}
		if !found {
			return reflect.Value{}, fmt.Errorf("%w %q (see 'enxame config show')", ErrUnknownKey, key)
		}
	}
	return v, nil
}

// ConfigValue returns the value of key in c as YAML (a section as a
// block of its keys).
func (c Config) ConfigValue(key string) (string, error) {
	v, err := lookup(reflect.ValueOf(&c).Elem(), key)
	if err != nil {
		return "", err
	}
	out, err := yaml.Marshal(v.Interface())
	if err != nil {
		return "", fmt.Errorf("encode %s: %w", key, err)
	}
	return strings.TrimSuffix(string(out), "\n"), nil
}

// parseValue decodes text as a value of t: YAML, and for a list also a
// comma-separated one ("a,b").
func parseValue(t reflect.Type, key, text string) (reflect.Value, error) {
	p := reflect.New(t)
	if t.Kind() == reflect.Slice && !strings.HasPrefix(strings.TrimSpace(text), "[") {
		var items []string
		for s := range strings.SplitSeq(text, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		text = "[" + strings.Join(quoteAll(items), ", ") + "]"
	}
	if err := yaml.Unmarshal([]byte(text), p.Interface()); err != nil {
		return reflect.Value{}, &ConfigError{Field: key, Err: fmt.Errorf("%q is not a valid %s", text, typeName(t))}
	}
	return p.Elem(), nil
}

func quoteAll(items []string) []string {
	out := make([]string, len(items))
	for i, s := range items {
		b, _ := yaml.Marshal(s)
		out[i] = strings.TrimSuffix(string(b), "\n")
	}
	return out
}

// typeName names t for an error message.
func typeName(t reflect.Type) string {
	switch t.String() {
	case "time.Duration":
		return "duration (like 30s, 5m)"
	case "node.ByteSize":
		return "size (like 500MB, 10GiB)"
	}
	switch t.Kind() {
	case reflect.Slice:
		return "list"
	case reflect.Int, reflect.Int64, reflect.Uint64:
		return "whole number"
	case reflect.Float64:
		return "number"
	}
	return t.Kind().String()
}

// ApplyEnv sets the keys of EnvOverrides whose variable getenv returns
// non-empty.
func (c *Config) ApplyEnv(getenv func(string) string) error {
	for _, e := range EnvOverrides {
		text := getenv(e.Var)
		if text == "" {
			continue
		}
		v, err := lookup(reflect.ValueOf(c).Elem(), e.Key)
		if err != nil {
			return fmt.Errorf("%s: %w", e.Var, err)
		}
		nv, err := parseValue(v.Type(), e.Key, text)
		if err != nil {
			return fmt.Errorf("%s: %w", e.Var, err)
		}
		v.Set(nv)
	}
	return nil
}

// SetConfig sets key to value (YAML text; a list may also be written
// a,b) in home's config file, keeping its comments, and checks the result
// as LoadConfig would. On any error (an unknown key, a value of the wrong
// type or an invalid one) the file is left as it was.
func SetConfig(home, key, value string) error {
	var probe Config
	fv, err := lookup(reflect.ValueOf(&probe).Elem(), key)
	if err != nil {
		return err
	}
	if isSection(fv.Type()) {
		return fmt.Errorf("%s is a section: set one of its keys, like %s", key, firstKey(key))
	}
	nv, err := parseValue(fv.Type(), key, value)
	if err != nil {
		return err
	}
	path := filepath.Join(home, ConfigFile)
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read config: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	var val yaml.Node
	if err := val.Encode(nv.Interface()); err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	if err := setNode(doc.Content[0], strings.Split(key, "."), &val); err != nil {
		return fmt.Errorf("%s: %s: %w", path, key, err)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	enc.Close()
	if _, err := ParseConfig(path, buf.Bytes()); err != nil {
		return err
	}
	if err := writeFileAtomic(path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}

// firstKey is the first key under the section key, for a hint.
func firstKey(section string) string {
	for _, k := range ConfigKeys() {
		if strings.HasPrefix(k, section+".") {
			return k
		}
	}
	return section + ".…"
}

// setNode sets the value at path under mapping m to val, making the
// mappings on the way; the key's comments stay.
func setNode(m *yaml.Node, path []string, val *yaml.Node) error {
	if m.Kind != yaml.MappingNode {
		return errors.New("the file has no mapping there")
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != path[0] {
			continue
		}
		if len(path) == 1 {
			old := m.Content[i+1]
			val.LineComment, val.FootComment = old.LineComment, old.FootComment
			m.Content[i+1] = val
			return nil
		}
		if m.Content[i+1].Kind != yaml.MappingNode {
			m.Content[i+1] = &yaml.Node{Kind: yaml.MappingNode}
		}
		return setNode(m.Content[i+1], path[1:], val)
	}
	k := &yaml.Node{Kind: yaml.ScalarNode, Value: path[0]}
	if len(path) == 1 {
		m.Content = append(m.Content, k, val)
		return nil
	}
	sub := &yaml.Node{Kind: yaml.MappingNode}
	m.Content = append(m.Content, k, sub)
	return setNode(sub, path[1:], val)
}
