package web

import (
	"context"
	"time"

	"github.com/otlink/otlink/internal/model"
)

// Writes is what governed writes need of the application.
type Writes interface {
	// Writable describes the tag at path; false when it is not writable.
	Writable(path string) (WritableTag, bool)
	// Write performs a governed write (acquire.Engine.Write: limits, rate,
	// the device's budget, the audit hook).
	Write(ctx context.Context, path string, v model.Value) error
}

// WritableTag is what the write dialog shows of a writable tag.
type WritableTag struct {
	Path        string        `json:"path"`
	Type        model.Type    `json:"type"`
	Unit        string        `json:"unit,omitempty"`
	Description string        `json:"description,omitempty"`
	Min         float64       `json:"min"`
	Max         float64       `json:"max"`
	MaxStep     float64       `json:"max_step,omitempty"`
	MinInterval time.Duration `json:"min_interval_ns,omitempty"`
}

func (s *Server) writeRoutes() []route { return nil }
