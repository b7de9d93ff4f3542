package persons

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

func TestNames_NameWords(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"Latin", "Chen Wei", []string{"chen", "wei"}},
		{"CaseAndSpaces", "  CHEN\t  wei ", []string{"chen", "wei"}},
		{"Accents", "José García", []string{"jose", "garcia"}},
		{"AccentsDecomposed", "Jose\u0301 Garci\u0301a", []string{"jose", "garcia"}},
		{"StackedAccents", "Nguyễn Văn Đức", []string{"nguyen", "van", "duc"}},
		{"LettersWithoutDecomposition", "Søren Łukasz Strauß Æsir", []string{"soren", "lukasz", "strauss", "aesir"}},
		{"DottedCapitalI", "İbrahim Yılmaz", []string{"ibrahim", "yilmaz"}},
		{"Apostrophe", "O'Brien", []string{"obrien"}},
		{"TypographicApostrophe", "N’Diaye", []string{"ndiaye"}},
		{"ModifierApostrophe", "Ng\u02bcang\u02bca", []string{"nganga"}},
		{"Okina", "Hawai\u02bbi", []string{"hawaii"}},
		{"AcuteAsApostrophe", "O´Neill", []string{"oneill"}},
		{"Hyphen", "Jean-Pierre Dupont", []string{"jean", "pierre", "dupont"}},
		{"Punctuation", "Wang, Xiao-Ming (Boss)", []string{"wang", "xiao", "ming", "boss"}},
		{"Digits", "Agent 47", []string{"agent", "47"}},
		{"Han", "陈 伟", []string{"陈", "伟"}},
		{"HanRunTogether", "陈伟", []string{"陈伟"}},
		{"HanIdeographicSpace", "陈\u3000伟", []string{"陈", "伟"}},
		// Thai vowels and tone marks are combining marks: they stay.
		{"Thai", "สมชาย ใจดี", []string{"สมชาย", "ใจดี"}},
		{"ThaiMarks", "สมศักดิ์", []string{"สมศักดิ์"}},
		{"Cyrillic", "Иванов Пётр", []string{"иванов", "петр"}},
		{"Greek", "Παπαδόπουλος", []string{"παπαδοπουλος"}},
		{"Arabic", "محمد علي", []string{"محمد", "علي"}},
		{"ArabicVowelSignsAndTatweel", "مُحَمَّد عـلي", []string{"محمد", "علي"}},
		{"HebrewNiqqud", "מֹשֶׁה", []string{"משה"}},
		{"DevanagariVowelSigns", "राजेश कुमार", []string{"राजेश", "कुमार"}},
		{"FullWidthLatin", "ＣＨＥＮ", []string{"chen"}},
		{"Empty", "", nil},
		{"NoLetters", " - ' . ", nil},
		{"LeadingMark", "\u0301abc", []string{"abc"}},
		{"Quote", `Wei "Boss" Chen`, []string{"wei", "boss", "chen"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := NameWords(tc.in)
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(NameForm{})); diff != "" {
				t.Errorf("NameWords(%q) (-want +got):\n%s", tc.in, diff)
			}
			for _, w := range got {
				if strings.ContainsAny(w, "\" \t'") {
					t.Errorf("NameWords(%q) gave a word with a quote or space: %q", tc.in, w)
				}
			}
		})
	}
}

// TestNames_NameWords_Idempotent: words of words are the words.
func TestNames_NameWords_Idempotent(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"José García", "Søren O'Brien", "陈 伟", "สมชาย ใจดี", "Nguyễn Văn Đức", "Strauß"} {
		words := NameWords(in)
		if again := NameWords(strings.Join(words, " ")); !slices.Equal(words, again) {
			t.Errorf("NameWords(NameWords(%q)) = %q, want %q", in, again, words)
		}
	}
}

func TestNames_WrittenWords(t *testing.T) {
	t.Parallel()
	got := WrittenWords("José  O'Brien-García")
	if want := []string{"José", "OBrien", "García"}; !slices.Equal(got, want) {
		t.Errorf("WrittenWords = %q, want %q", got, want)
	}
}

func name(family, given, latinFamily, latinGiven string) *liaisonv1.PersonName {
	return &liaisonv1.PersonName{FamilyName: family, GivenNames: given, LatinFamilyName: latinFamily, LatinGivenNames: latinGiven}
}

func TestNames_NameForms(t *testing.T) {
	t.Parallel()
	p := &liaisonv1.Person{
		Names:   []*liaisonv1.PersonName{name("王", "小明", "Wang", "Xiao Ming"), name("Wong", "", "", "")},
		Aliases: []string{"Ah Ming", "  "},
	}
	want := []NameForm{
		{Text: "王 小明", Kind: "as written", Words: []string{"王", "小明"}, Parts: [][]string{{"王"}, {"小明"}}},
		{Text: "Wang Xiao Ming", Kind: "Latin transliteration", Of: "王 小明", Words: []string{"wang", "xiao", "ming"}, Parts: [][]string{{"wang"}, {"xiao", "ming"}}},
		{Text: "Wong", Kind: "as written", Words: []string{"wong"}, Parts: [][]string{{"wong"}}},
		{Text: "Ah Ming", Kind: "alias", Words: []string{"ah", "ming"}, Parts: [][]string{{"ah", "ming"}}},
	}
	if diff := cmp.Diff(want, NameForms(p), cmp.AllowUnexported(NameForm{})); diff != "" {
		t.Errorf("NameForms (-want +got):\n%s", diff)
	}
	translit := NameForms(p)[1]
	if got := translit.Swapped(); !slices.Equal(got, []string{"xiao", "ming", "wang"}) {
		t.Errorf("Swapped = %q: want the given names before the family name", got)
	}
	if got := NameForms(p)[3].Swapped(); !slices.Equal(got, []string{"ming", "ah"}) {
		t.Errorf("Swapped of an alias = %q: want its words reversed", got)
	}
	if got := translit.Segmentations(); !cmp.Equal(got, [][]string{{"wang", "xiao", "ming"}, {"wang", "xiaoming"}}) {
		t.Errorf("Segmentations = %q", got)
	}
}

// TestNames_IndexTokens: the words, the runs, and their keys — "9…" the
// phonetic skeletons (of a word and of the whole name run together; none
// of one consonant, "wei"), and
// the words of machine transliterations (the RTGS "chaidi" of ใจดี, next
// to the recorded "Jaidee"); a word beginning with j has a second skeleton
// read as y ("9at").
func TestNames_IndexTokens(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		p    *liaisonv1.Person
		want string
	}{
		{"HanWithTransliteration", &liaisonv1.Person{Names: []*liaisonv1.PersonName{name("陈", "伟", "Chen", "Wei")}},
			"陈 伟 陈伟 伟陈 chen 9cn wei chenwei weichen 9wcn"},
		{"ThaiWithTransliteration", &liaisonv1.Person{Names: []*liaisonv1.PersonName{name("ใจดี", "สมชาย", "Jaidee", "Somchai")}},
			"ใจดี สมชาย ใจดีสมชาย สมชายใจดี jaidee 9ct 9at somchai 9smc jaideesomchai somchaijaidee 9ctsmc 9smct chaidi chaidisomchai somchaichaidi"},
		{"AccentsAndApostrophes", &liaisonv1.Person{Names: []*liaisonv1.PersonName{name("O'Brien", "José", "", "")}},
			"obrien 9apln jose 9cs 9as obrienjose joseobrien 9aplncs 9cspln"},
		// A name part of several words is indexed run together too, and
		// the swapped order puts the given names first as a whole.
		{"MultiWordGivenNames", &liaisonv1.Person{Names: []*liaisonv1.PersonName{name("Wang", "Xiao Ming", "", "")}},
			"wang 9wq xiao 9ks ming 9mq xiaoming 9ksmq wangxiaoming xiaomingwang 9wqksmq"},
		{"OneWord", &liaisonv1.Person{Names: []*liaisonv1.PersonName{name("Madonna", "", "", "")}}, "madonna 9mtn"},
		{"AliasesAndDuplicates", &liaisonv1.Person{
			Names:   []*liaisonv1.PersonName{name("Chen", "Wei", "Chen", "Wei")},
			Aliases: []string{"Boss Chen"},
		}, "chen 9cn wei chenwei weichen 9wcn boss 9ps bosschen 9psn chenboss 9cnps"},
		{"NoNames", &liaisonv1.Person{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := IndexTokens(tc.p); got != tc.want {
				t.Errorf("IndexTokens = %q\nwant           %q", got, tc.want)
			}
		})
	}
}

// TestNames_IndexTokens_CoverQueries: every way of writing a name the search
// promises to find has its words, or the words run together, among the
// indexed tokens — the full-text candidates of a query are found by one or
// the other.
func TestNames_IndexTokens_CoverQueries(t *testing.T) {
	t.Parallel()
	p := &liaisonv1.Person{Names: []*liaisonv1.PersonName{name("陈", "伟", "Chen", "Wei"), name("Wang", "Xiao Ming", "", "")}}
	tokens := map[string]bool{}
	for _, w := range strings.Fields(IndexTokens(p)) {
		tokens[w] = true
	}
	for _, q := range []string{"Chen Wei", "chen wei", "Wei Chen", "ChenWei", "WEICHEN", "陈伟", "陈 伟", "伟 陈",
		"Wang Xiao Ming", "Wang Xiaoming", "Xiaoming Wang", "Xiao Ming Wang", "WangXiaoMing", "xiaoming"} {
		words := NameWords(q)
		all := true
		for _, w := range words {
			all = all && tokens[w]
		}
		if !all && !tokens[strings.Join(words, "")] {
			t.Errorf("%q (words %q) is not covered by the tokens %q", q, words, IndexTokens(p))
		}
	}
}

// TestNameWords_ASCIIAsUnicode: the ASCII fast path of NameWords splits
// and folds as the general one does, over every ASCII character and
// random names made of them.
func TestNameWords_ASCIIAsUnicode(t *testing.T) {
	inputs := []string{"", " ", "O'Brien", "Chen  Wei", "El-Khoury", "ab`c", "X Æ", "kim sung-min 2", "'", "a\tb\nc"}
	for c := 0; c < 0x80; c++ {
		inputs = append(inputs, string(rune(c)), "a"+string(rune(c))+"B")
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		b := make([]byte, r.IntN(16))
		for i := range b {
			b[i] = byte(r.IntN(0x80))
		}
		inputs = append(inputs, string(b))
	}
	for _, in := range inputs {
		fast, ok := asciiNameWords(in)
		want := unicodeNameWords(in)
		if !ok && !strings.ContainsFunc(in, func(r rune) bool { return r >= utf8.RuneSelf }) {
			t.Fatalf("asciiNameWords(%q) refused an ASCII name", in)
		}
		if ok && !slices.Equal(fast, want) {
			t.Fatalf("asciiNameWords(%q) = %q, want %q", in, fast, want)
		}
	}
	if _, ok := asciiNameWords("José"); ok {
		t.Error("asciiNameWords took a name with an accent")
	}
}
