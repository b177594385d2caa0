package pg

import (
	"context"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/otlink/otlink/internal/errcode"
)

// partStart returns the start of the partition that holds ns: a multiple
// of the width since 1970 (so daily partitions start at 00:00 UTC).
func (s *Store) partStart(ns int64) int64 {
	st := ns / s.width * s.width
	if ns < 0 && st != ns {
		if st < math.MinInt64+s.width {
			return math.MinInt64
		}
		st -= s.width
	}
	return st
}

// partName names a partition by its start, e.g. samples_p20240131t000000.
func partName(start int64) string {
	if start == math.MinInt64 {
		return "samples_pmin"
	}
	return "samples_p" + time.Unix(0, start).UTC().Format("20060102t150405")
}

// bounds renders a partition's range. The first partition starts at
// MINVALUE (its start was clamped by partStart), the last ends at MAXVALUE
// where start+width would overflow int64.
func (s *Store) bounds(start int64) (from, to string) {
	if start == math.MinInt64 {
		end := math.MinInt64 / s.width * s.width
		if end == math.MinInt64 {
			end += s.width
		}
		return "MINVALUE", strconv.FormatInt(end, 10)
	}
	from = strconv.FormatInt(start, 10)
	if start > math.MaxInt64-s.width {
		return from, "MAXVALUE"
	}
	return from, strconv.FormatInt(start+s.width, 10)
}

// ensureParts creates the partitions that samples at the given source
// times need. Creation takes an advisory lock: two writers creating the
// same partition at once would otherwise collide in the catalog.
func (s *Store) ensureParts(ctx context.Context, times []int64) error {
	if s.layout != LayoutPartitioned {
		return nil // TimescaleDB creates chunks itself
	}
	var need []int64
	seen := map[int64]bool{}
	s.mu.Lock()
	for _, t := range times {
		st := s.partStart(t)
		if !s.parts[st] && !seen[st] {
			seen[st] = true
			need = append(need, st)
		}
	}
	s.mu.Unlock()
	if len(need) == 0 {
		return nil
	}
	sort.Slice(need, func(i, j int) bool { return need[i] < need[j] })
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('otlink.historian.partition'), hashtext($1))`, s.opt.Schema); err != nil {
			return err
		}
		for _, st := range need {
			from, to := s.bounds(st)
			name := pgx.Identifier{s.opt.Schema, partName(st)}.Sanitize()
			if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+name+` PARTITION OF `+s.q+`.samples FOR VALUES FROM (`+from+`) TO (`+to+`)`); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return errcode.Wrap(errcode.PGWrite, err, "create partitions of %s.samples", s.opt.Schema)
	}
	s.mu.Lock()
	for _, st := range need {
		s.parts[st] = true
	}
	s.mu.Unlock()
	return nil
}

// ensureAhead creates the current partition and Options.Ahead after it.
func (s *Store) ensureAhead(ctx context.Context) error {
	now := time.Now().UnixNano()
	times := make([]int64, 0, s.opt.Ahead+1)
	for i := 0; i <= s.opt.Ahead; i++ {
		times = append(times, now+int64(i)*s.width)
	}
	return s.ensureParts(ctx, times)
}
