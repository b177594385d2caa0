package pg

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

var stageCols = []string{"series_id", "source_ns", "vtype", "v_num", "v_int", "v_text", "quality", "code", "server_ns"}

// Write stores samples in one transaction: COPY into the session's staging
// table, then INSERT ... SELECT ... ON CONFLICT DO NOTHING into samples, so
// that a sample already stored (same tag and source time) is skipped, and
// an upsert of the latest table. When Write returns nil the transaction is
// committed, which with the server's default synchronous_commit = on means
// its WAL is flushed to disk.
//
// A sample whose tag and source time are stored already is not stored
// again, even when its value differs: the first write wins, so replaying
// old messages can never overwrite what was stored.
func (s *Store) Write(ctx context.Context, samples []model.Sample) error {
	if err := s.check(); err != nil {
		return err
	}
	if len(samples) == 0 {
		return nil
	}
	for i := range samples {
		if err := checkSample(i, &samples[i]); err != nil {
			return err
		}
	}
	ids, err := s.seriesIDs(ctx, samples)
	if err != nil {
		return err
	}
	times := make([]int64, len(samples))
	for i := range samples {
		times[i] = samples[i].Source
	}
	if err := s.ensureParts(ctx, times); err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{stageTable}, stageCols, &copySource{s: samples, ids: ids, i: -1}); err != nil {
			return err
		}
		// ORDER BY gives every writer the same lock order on the unique
		// index and on latest rows, so concurrent batches cannot deadlock.
		if _, err := tx.Exec(ctx, `INSERT INTO `+s.q+`.samples
			SELECT * FROM `+stageTable+` ORDER BY series_id, source_ns
			ON CONFLICT (series_id, source_ns) DO NOTHING`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO `+s.q+`.latest AS l
			SELECT DISTINCT ON (series_id) * FROM `+stageTable+` ORDER BY series_id, source_ns DESC
			ON CONFLICT (series_id) DO UPDATE SET
				source_ns = EXCLUDED.source_ns, vtype = EXCLUDED.vtype, v_num = EXCLUDED.v_num,
				v_int = EXCLUDED.v_int, v_text = EXCLUDED.v_text, quality = EXCLUDED.quality,
				code = EXCLUDED.code, server_ns = EXCLUDED.server_ns
			WHERE l.source_ns < EXCLUDED.source_ns`)
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return errcode.Wrap(errcode.PGWrite, ctx.Err(), "write %d samples to postgres", len(samples))
		}
		return errcode.Wrap(errcode.PGWrite, err, "write %d samples to postgres", len(samples))
	}
	return nil
}

// copySource feeds samples to COPY without building all rows first.
type copySource struct {
	s   []model.Sample
	ids []int32
	i   int
	row [9]any
}

func (c *copySource) Next() bool { c.i++; return c.i < len(c.s) }
func (c *copySource) Err() error { return nil }

func (c *copySource) Values() ([]any, error) {
	sm := &c.s[c.i]
	num, intv, text := encodeValue(sm.Value)
	c.row = [9]any{c.ids[c.i], sm.Source, int16(sm.Value.T), nil, nil, nil,
		int32(sm.Quality), int16(sm.Code), sm.Server}
	// Typed nil pointers would be encoded as NULL too, but plain nil
	// avoids pgx's reflection on them.
	if num != nil {
		c.row[3] = *num
	}
	if intv != nil {
		c.row[4] = *intv
	}
	if text != nil {
		c.row[5] = *text
	}
	return c.row[:], nil
}

// seriesIDs returns the series id of each sample's tag, creating series
// for new tags. Ids are cached: in a steady state a batch costs no query
// here. New series are committed before the samples that use them, so a
// cached id always exists in the database.
func (s *Store) seriesIDs(ctx context.Context, samples []model.Sample) ([]int32, error) {
	ids := make([]int32, len(samples))
	var newTags []string
	var newTypes []int16
	s.mu.Lock()
	pending := map[string]bool{}
	for i := range samples {
		id, ok := s.series[samples[i].Tag]
		if ok {
			ids[i] = id
			continue
		}
		if !pending[samples[i].Tag] {
			pending[samples[i].Tag] = true
			newTags = append(newTags, samples[i].Tag)
			newTypes = append(newTypes, int16(samples[i].Value.T))
		}
	}
	s.mu.Unlock()
	if len(newTags) == 0 {
		return ids, nil
	}
	got, err := s.createSeries(ctx, newTags, newTypes)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	for t, id := range got {
		s.series[t] = id
	}
	s.mu.Unlock()
	for i := range samples {
		if ids[i] == 0 {
			ids[i] = got[samples[i].Tag]
		}
	}
	return ids, nil
}

func (s *Store) createSeries(ctx context.Context, tags []string, types []int16) (map[string]int32, error) {
	// ON CONFLICT DO NOTHING lets concurrent writers (and other nodes)
	// create the same tag; the SELECT then reads whichever id won.
	if _, err := s.pool.Exec(ctx, `INSERT INTO `+s.q+`.series (tag, vtype)
		SELECT * FROM unnest($1::text[], $2::int2[]) ORDER BY 1
		ON CONFLICT (tag) DO NOTHING`, tags, types); err != nil {
		return nil, errcode.Wrap(errcode.PGWrite, err, "create %d series", len(tags))
	}
	got, err := s.lookupSeries(ctx, tags)
	if err != nil {
		return nil, errcode.Wrap(errcode.PGWrite, err, "read ids of %d series", len(tags))
	}
	for _, t := range tags {
		if _, ok := got[t]; !ok {
			return nil, errcode.New(errcode.PGWrite, "series %q vanished while it was created", t)
		}
	}
	return got, nil
}

func (s *Store) lookupSeries(ctx context.Context, tags []string) (map[string]int32, error) {
	rows, err := s.pool.Query(ctx, `SELECT tag, id FROM `+s.q+`.series WHERE tag = ANY($1::text[])`, tags)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	got := make(map[string]int32, len(tags))
	for rows.Next() {
		var t string
		var id int32
		if err := rows.Scan(&t, &id); err != nil {
			return nil, err
		}
		got[t] = id
	}
	return got, rows.Err()
}
