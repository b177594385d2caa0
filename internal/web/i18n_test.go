package web

import (
	"io/fs"
	"net/http/httptest"
	"regexp"
	"testing"
)

// TestTranslations: every text a template marks for translation has a
// Traditional Chinese translation, and no translation is left over.
func TestTranslations(t *testing.T) {
	re := regexp.MustCompile(`\{\{-?\s*(?:T|Tf)\s+"((?:[^"\\]|\\.)*)"`)
	used := map[string]bool{}
	files, _ := fs.Glob(templateFS, "templates/*.html")
	for _, f := range files {
		data, _ := templateFS.ReadFile(f)
		for _, m := range re.FindAllStringSubmatch(string(data), -1) {
			used[m[1]] = true
			if _, ok := catalogs["zh-TW"][m[1]]; !ok {
				t.Errorf("%s: %q has no zh-TW translation (internal/web/i18n/zh-TW/*.json)", f, m[1])
			}
		}
	}
	for k := range catalogs["zh-TW"] {
		if !used[k] && !jsOnly[k] {
			t.Errorf("zh-TW translation of %q is used by no template", k)
		}
	}
}

// jsOnly lists translated texts that scripts read from data attributes
// rather than templates; filled by the files that use them.
var jsOnly = map[string]bool{}

func TestLangChoice(t *testing.T) {
	for _, c := range []struct{ cookie, accept, want string }{
		{"", "", "en"},
		{"", "zh-TW,zh;q=0.9,en;q=0.8", "zh-TW"},
		{"", "zh-Hant-TW", "zh-TW"},
		{"", "zh-CN,en;q=0.5", "en"},
		{"en", "zh-TW", "en"},
		{"zh-TW", "en", "zh-TW"},
		{"klingon", "", "en"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if c.cookie != "" {
			r.Header.Set("Cookie", "lang="+c.cookie)
		}
		r.Header.Set("Accept-Language", c.accept)
		if got := langOf(r); got != c.want {
			t.Errorf("cookie %q accept %q: %s, want %s", c.cookie, c.accept, got, c.want)
		}
	}
}

func TestSetLangNoOpenRedirect(t *testing.T) {
	s := &Server{}
	for back, want := range map[string]string{"/machines/a": "/machines/a", "//evil.example": "/", "https://evil.example": "/", "/\\evil": "/", "": "/"} {
		w := httptest.NewRecorder()
		s.setLang(w, httptest.NewRequest("GET", "/lang?lang=zh-TW&back="+back, nil))
		if got := w.Header().Get("Location"); got != want {
			t.Errorf("back %q: location %q, want %q", back, got, want)
		}
	}
}
