package persons

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestKeys_Skeleton: spellings of one name under different romanization
// systems and habits share a skeleton; different names do not.
func TestKeys_Skeleton(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ a, b string }{
		{"gimseongmin", "kimsungmin"}, // Korean RR and a passport spelling
		{"somchai", "somchay"},        // Thai RTGS and a passport spelling
		{"prasoet", "prasert"},
		{"thanakon", "tanakorn"}, // aspirate, silent r
		{"kaeomani", "kaewmanee"},
		{"ivanov", "iwanow"}, // Russian, German spelling
		{"ivanov", "ivanoff"},
		{"oleksandr", "aleksandr"}, // Ukrainian and Russian forms
		{"rashid", "rasheed"},
		{"abdurrahman", "abdulrahman"},
		{"pairot", "pairoj"}, // a final stop in Thai
		{"wichai", "vichai"},
		{"wongyeong", "wonkyung"}, // n + g across syllables
	} {
		if sa, sb := Skeleton(tc.a), Skeleton(tc.b); sa == "" || sa != sb {
			t.Errorf("Skeleton(%q) = %q, Skeleton(%q) = %q: want the same", tc.a, sa, tc.b, sb)
		}
	}
	for _, tc := range []struct{ a, b string }{{"chen", "wang"}, {"somchai", "somsak"}, {"hassan", "mansour"}} {
		if Skeleton(tc.a) == Skeleton(tc.b) {
			t.Errorf("Skeleton(%q) = Skeleton(%q) = %q: want different", tc.a, tc.b, Skeleton(tc.a))
		}
	}
	if got := Skeleton("陈"); got != "" {
		t.Errorf("Skeleton of a Han word = %q, want none", got)
	}
}

// TestKeys_Romanizations: a name in each script in Latin letters under
// the main standards of the script.
// TestKeys_SoundedR: a name spelled without its vowels, as the Arabic
// consonant transliteration writes it, keeps an r before a consonant that
// a spelling with vowels sounds: Skeletons share one.
func TestKeys_SoundedR(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ a, b string }{
		{"fars", "fares"}, // فارس
		{"fars", "faris"},
	} {
		sa, sb := Skeletons(tc.a), Skeletons(tc.b)
		if !slices.ContainsFunc(sa, func(s string) bool { return slices.Contains(sb, s) }) {
			t.Errorf("Skeletons(%q) = %q, Skeletons(%q) = %q: want one in common", tc.a, sa, tc.b, sb)
		}
	}
	// The silent r of a Thai spelling still reads as silent.
	if !slices.Contains(Skeletons("somporn"), Skeleton("somphon")) {
		t.Errorf("Skeletons(somporn) = %q lost Skeleton(somphon) = %q", Skeletons("somporn"), Skeleton("somphon"))
	}
}

func TestKeys_Romanizations(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		family, given string
		want          map[string]string
	}{
		{"陈", "伟明", map[string]string{SystemPinyin: "Chen Weiming", SystemWadeGiles: "Chen Weiming"}},
		{"曾", "强", map[string]string{SystemPinyin: "Zeng Qiang", SystemWadeGiles: "Tseng Chiang"}},
		{"김", "성민", map[string]string{SystemRR: "Gim Seongmin", SystemMR: "Kim Songmin"}},
		{"ใจดี", "สมชาย", map[string]string{SystemRTGS: "Chaidi Somchai"}},
		{"Щербаков", "Евгений", map[string]string{SystemGOST: "Shcherbakov Evgenii", SystemBGN: "Shcherbakov Yevgeniy"}},
		{"Ярошенко", "Олександр", map[string]string{SystemUkrainian: "Yaroshenko Oleksandr"}},
		{"الرشيد", "محمد", map[string]string{SystemArabic: "Al Rshyd Muhammad"}},
	} {
		f := newForm(tc.family, tc.given, "as written", "")
		got := map[string]string{}
		for _, r := range Romanizations(*f) {
			got[r.Kind] = r.Text
			if !r.Machine() || r.Of != f.Text {
				t.Errorf("%s: %+v is not marked a machine transliteration of %q", f.Text, r, f.Text)
			}
		}
		for sys, want := range tc.want {
			if got[sys] != want {
				t.Errorf("%s in %s = %q, want %q", f.Text, sys, got[sys], want)
			}
		}
	}
	if r := Romanizations(*newForm("Chen", "Wei", "as written", "")); len(r) != 0 {
		t.Errorf("a Latin name has romanizations %v", r)
	}
}

func TestKeys_Equivalent(t *testing.T) {
	t.Parallel()
	if g, ok := SameGroup("mohammed", "muhammad"); !ok || g != "muhammad" {
		t.Errorf("Mohammed and Muhammad: group %q, %v", g, ok)
	}
	if _, ok := SameGroup("muhammad", "mahmoud"); ok {
		t.Error("Muhammad and Mahmoud are one name")
	}
	if got := PinyinOfWadeGiles("hsu"); !slices.Contains(got, "xu") {
		t.Errorf("PinyinOfWadeGiles(hsu) = %q, want xu among them", got)
	}
}

// TestIsPinyinOfWadeGiles: the question answered without the list is the
// list's answer, for readings of the word, readings of other words, the
// word itself and spellings of names that are no syllables at all.
func TestIsPinyinOfWadeGiles(t *testing.T) {
	words := []string{"hsu", "chiang", "tseng", "chienyu", "chiehching", "kao", "weihe", "kannai", "weihekannai",
		"changchihtung", "hsiungchi", "tzussu", "chuang", "wangwei", "qichupan", "ranseliuwunu", "muhammad", "yuan", "li"}
	var readings []string
	for _, w := range words {
		readings = append(readings, PinyinOfWadeGiles(w)...)
	}
	readings = append(readings, words...)
	readings = append(readings, "", "x", "zhangzhidong", "xiongji")
	trues := 0
	for _, w := range words {
		for _, r := range readings {
			want := slices.Contains(PinyinOfWadeGiles(w), r)
			if got := IsPinyinOfWadeGiles(w, r); got != want {
				t.Errorf("IsPinyinOfWadeGiles(%q, %q) = %v, want %v", w, r, got, want)
			}
			if want {
				trues++
			}
		}
	}
	if trues < 20 {
		t.Errorf("only %d pairs are readings: the test no longer tries the words it means to", trues)
	}
}

// skeletonByTable is Skeleton as names/skeleton.txt reads: at each letter
// the first rule of the whole table that matches. Skeleton tries only the
// rules that can match at the letter; the two must agree.
func skeletonByTable(w string) string {
	for i := 0; i < len(w); i++ {
		if w[i] < 'a' || w[i] > 'z' {
			return ""
		}
	}
	var s []byte
	for i := 0; i < len(w); {
		matched := false
		for _, r := range skeletonRules() {
			if n, ok := r.matchAt(w, i); ok {
				s, i, matched = append(s, r.to...), i+n, true
				break
			}
		}
		if !matched {
			s, i = append(s, w[i]), i+1
		}
	}
	var out []byte
	for i := range s {
		if i == 0 || s[i] != s[i-1] {
			out = append(out, s[i])
		}
	}
	return string(out)
}

// TestKeys_SkeletonByLetterIsTheTables: over the words of the name tables
// and 50,000 random ones, Skeleton equals the table read rule by rule.
func TestKeys_SkeletonByLetterIsTheTables(t *testing.T) {
	t.Parallel()
	var words []string
	for _, file := range []string{"equivalents.txt", "wadegiles.txt", "han_surnames.txt", "skeleton.txt"} {
		for _, f := range readTable(file) {
			for _, w := range f {
				words = append(words, strings.Trim(strings.ToLower(w), "^$+"))
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	const letters = "abcdefghijklmnopqrstuvwxyzaeiouhngsr"
	for range 50_000 {
		b := make([]byte, 1+r.IntN(14))
		for i := range b {
			b[i] = letters[r.IntN(len(letters))]
		}
		words = append(words, string(b))
	}
	words = append(words, "", "chen", "jaroschenko", "wookyung", "ngo", "tch")
	differ := 0
	for _, w := range words {
		if got, want := Skeleton(w), skeletonByTable(w); got != want {
			if differ++; differ <= 10 {
				t.Errorf("Skeleton(%q) = %q, the table rule by rule gives %q", w, got, want)
			}
		}
	}
	if differ > 0 {
		t.Errorf("%d of %d words differ", differ, len(words))
	}
}

// BenchmarkSkeleton is the skeleton of a name run together, as every
// person indexed needs (RunKeys).
func BenchmarkSkeleton(b *testing.B) {
	for b.Loop() {
		Skeleton("chenxiaomingwangshuying")
	}
}
