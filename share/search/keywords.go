package search

import (
	"cmp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of keywords.
const (
	// MinKeywordLen is the fewest runes a keyword has; shorter words are
	// ignored.
	MinKeywordLen = 3
	// MaxKeywordBytes is the most bytes a keyword has (longer ones are cut
	// at a rune boundary), the dht's MaxKeywordLen.
	MaxKeywordBytes = 64
	// MaxKeywords is the most keywords a file is published under.
	MaxKeywords = 12
)

// folds maps precomposed Latin letters to their base letters. Combining
// marks (decomposed input, as macOS file names are) are dropped by Normalize.
var folds = map[rune]string{}

func init() {
	for _, p := range []struct{ from, to string }{
		{"àáâãäåāăą", "a"}, {"çćĉċč", "c"}, {"ďđ", "d"}, {"èéêëēĕėęě", "e"},
		{"ĝğġģ", "g"}, {"ĥħ", "h"}, {"ìíîïĩīĭįı", "i"}, {"ĵ", "j"}, {"ķ", "k"},
		{"ĺļľŀł", "l"}, {"ñńņňŉ", "n"}, {"òóôõöøōŏő", "o"}, {"ŕŗř", "r"},
		{"śŝşšș", "s"}, {"ţťŧț", "t"}, {"ùúûüũūŭůűų", "u"}, {"ŵ", "w"},
		{"ýÿŷ", "y"}, {"źżž", "z"}, {"ß", "ss"}, {"æ", "ae"}, {"œ", "oe"}, {"þ", "th"}, {"ð", "d"},
	} {
		for _, r := range p.from {
			folds[r] = p.to
		}
	}
}

// Normalize case-folds s and removes its diacritics ("Açores" → "acores").
// Letters and digits are kept, everything else becomes a space.
func Normalize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue // a combining mark: the accent of a decomposed letter
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			r = unicode.ToLower(r)
			if f, ok := folds[r]; ok {
				b.WriteString(f)
			} else {
				b.WriteRune(r)
			}
		default:
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// Words returns the normalised words of s, in order, keeping repeats,
// short words and stop words.
func Words(s string) []string { return strings.Fields(Normalize(s)) }

// isKeyword reports whether a normalised word is a keyword: long enough
// and not a stop word.
func isKeyword(w string) bool {
	return utf8.RuneCountInString(w) >= MinKeywordLen && !stopWords[w]
}

// cut shortens w to MaxKeywordBytes at a rune boundary.
func cut(w string) string {
	if len(w) <= MaxKeywordBytes {
		return w
	}
	for i := MaxKeywordBytes; i > 0; i-- {
		if utf8.RuneStart(w[i]) {
			return w[:i]
		}
	}
	return ""
}

// Keywords returns the keywords of texts (a file's name, then extra
// keywords and a description): the normalised words that are neither
// short nor stop words, each once, in order of first appearance, at most
// MaxKeywords.
func Keywords(texts ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range texts {
		for _, w := range Words(t) {
			w = cut(w)
			if !isKeyword(w) || seen[w] {
				continue
			}
			seen[w] = true
			out = append(out, w)
			if len(out) == MaxKeywords {
				return out
			}
		}
	}
	return out
}

// Rarest returns the keyword of kws to look up: the one most likely to
// have the fewest records, taken to be the longest (as eMule's Kad does),
// ties broken by the lexically smallest. It returns "" for none.
func Rarest(kws []string) string {
	if len(kws) == 0 {
		return ""
	}
	return slices.MinFunc(kws, func(a, b string) int {
		return cmp.Or(cmp.Compare(utf8.RuneCountInString(b), utf8.RuneCountInString(a)), cmp.Compare(a, b))
	})
}

// stopWords are Portuguese and English words too common to index.
var stopWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`
		the and for with from that this are was were but not you your our
		its his her their they them there then than into onto over under about
		all any can has have had will would should could what when where which who
		why how also just more most some such only own same very out off
		com como das dos uma umas uns nos nas pelo pela pelos pelas para por
		que sem sob sobre entre ate mas mais menos muito muita muitos muitas
		seu sua seus suas meu minha meus minhas teu tua nosso nossa este esta
		estes estas esse essa esses essas isto isso aquilo aquele aquela ele ela
		eles elas nao sim foi sao ser ter tem tinha era eram esta estao ja tambem
		quando onde qual quais quem porque pois ou aos num numa`) {
		stopWords[w] = true
	}
}
