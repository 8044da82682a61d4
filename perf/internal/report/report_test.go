package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteSectionKeepsHandWrittenText(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.md")
	if err := WriteSection(path, "Title", "a", "first"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	edited := strings.Replace(string(b), "# Title\n", "# Title\n\nWhy it is so.\n", 1) + "\nAfterword.\n"
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteSection(path, "Title", "a", "second"); err != nil {
		t.Fatal(err)
	}
	if err := WriteSection(path, "Title", "b", "other"); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	s := string(b)
	for _, want := range []string{"Why it is so.", "Afterword.", "second", "other"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in\n%s", want, s)
		}
	}
	if strings.Contains(s, "first") {
		t.Errorf("old section content kept:\n%s", s)
	}
}
