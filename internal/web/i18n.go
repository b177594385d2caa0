package web

import (
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// Pages speak English or Traditional Chinese. Templates write their text
// in English inside {{T "..."}}; the English text is the key of the
// translation, so a page reads naturally in its template and a missing
// translation shows English rather than a key. Translations are JSON
// objects in i18n/LANG/*.json, one file per page group, so that pages can
// be added without editing a shared catalogue. TestTranslations checks
// that every {{T "..."}} of every template is translated.
//
// The language is the "lang" cookie when set (the language switch sets
// it), else the first supported language of Accept-Language, else English.

//go:embed i18n
var i18nFS embed.FS

// langs lists the supported languages; the first is the default.
var langs = []string{"en", "zh-TW"}

var (
	catalogs = loadCatalogs()
	pageSets = buildPages()
)

func loadCatalogs() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, lang := range langs[1:] {
		m := map[string]string{}
		files, _ := fs.Glob(i18nFS, "i18n/"+lang+"/*.json")
		for _, f := range files {
			data, err := i18nFS.ReadFile(f)
			if err != nil {
				panic(err)
			}
			var part map[string]string
			if err := json.Unmarshal(data, &part); err != nil {
				panic(fmt.Sprintf("web: %s: %v", f, err))
			}
			for k, v := range part {
				if old, dup := m[k]; dup && old != v {
					panic(fmt.Sprintf("web: %s: %q translated twice, differently", f, k))
				}
				m[k] = v
			}
		}
		out[lang] = m
	}
	return out
}

// translate returns the text of key in lang, or key itself.
func translate(lang, key string) string {
	if t, ok := catalogs[lang][key]; ok && t != "" {
		return t
	}
	return key
}

func buildPages() map[string]*template.Template {
	base := template.Must(template.New("").Funcs(template.FuncMap{
		"T": func(s string) string { return s },
		// Tf translates a format, then fills it: {{Tf "%d tags" .N}}.
		"Tf": func(s string, args ...any) string { return fmt.Sprintf(s, args...) },
	}).ParseFS(templateFS, "templates/*.html"))
	out := map[string]*template.Template{}
	for _, lang := range langs {
		t := template.Must(base.Clone())
		t.Funcs(template.FuncMap{
			"T":  func(s string) string { return translate(lang, s) },
			"Tf": func(s string, args ...any) string { return fmt.Sprintf(translate(lang, s), args...) },
		})
		out[lang] = t
	}
	return out
}

func pagesFor(lang string) *template.Template {
	if t, ok := pageSets[lang]; ok {
		return t
	}
	return pageSets[langs[0]]
}

// langOf chooses the language of a request's page.
func langOf(r *http.Request) string {
	if r == nil {
		return langs[0]
	}
	if c, err := r.Cookie("lang"); err == nil {
		if l, ok := supported(c.Value); ok {
			return l
		}
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if l, ok := supported(tag); ok {
			return l
		}
	}
	return langs[0]
}

// supported maps a language tag to a supported one: zh-TW, zh-Hant and
// zh-Hant-TW read Traditional Chinese; other Chinese tags do not, since
// Simplified Chinese readers are better served by English than by a
// script they may not read.
func supported(tag string) (string, bool) {
	t := strings.ToLower(strings.TrimSpace(tag))
	switch {
	case t == "en" || strings.HasPrefix(t, "en-"):
		return "en", true
	case t == "zh-tw" || t == "zh-hant" || strings.HasPrefix(t, "zh-hant-"):
		return "zh-TW", true
	}
	return "", false
}

// setLang is the language switch: it sets the cookie and goes back.
func (s *Server) setLang(w http.ResponseWriter, r *http.Request) {
	l, ok := supported(r.URL.Query().Get("lang"))
	if !ok {
		l = langs[0]
	}
	http.SetCookie(w, &http.Cookie{Name: "lang", Value: l, Path: "/", MaxAge: 365 * 24 * 3600,
		Secure: r.TLS != nil, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	back := r.URL.Query().Get("back")
	// Only a local path: an open redirect would help phishing.
	if !strings.HasPrefix(back, "/") || strings.HasPrefix(back, "//") || strings.Contains(back, "\\") {
		back = "/"
	}
	http.Redirect(w, r, path.Clean(back), http.StatusSeeOther)
}
