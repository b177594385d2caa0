// Command gen writes docs/errors.md from the error catalog.
package main

import (
	"log"
	"os"

	"github.com/otlink/otlink/internal/errcode"
)

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	if err := errcode.WriteMarkdown(f); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}
