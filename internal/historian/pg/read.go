package pg

import (
	"context"
	"path"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/historian"
	"github.com/otlink/otlink/internal/model"
)

// pageSize is how many rows Raw fetches per query. Paging by key instead of
// a cursor holds no connection or transaction between pages, so a slow
// consumer of a long range blocks nobody.
const pageSize = 8192

const sampleCols = `source_ns, vtype, v_num, v_int, v_text, quality, code, server_ns`

// fields receives one row of sampleCols.
type fields struct {
	src, srv int64
	vt, code int16
	q        int32
	num      *float64
	intv     *int64
	text     *string
}

func (f *fields) ptrs() []any {
	return []any{&f.src, &f.vt, &f.num, &f.intv, &f.text, &f.q, &f.code, &f.srv}
}

func (f *fields) sample(tag string) model.Sample {
	return model.Sample{
		Tag: tag, Source: f.src, Server: f.srv,
		Value:   decodeValue(model.Type(f.vt), f.num, f.intv, f.text),
		Quality: model.Quality(uint32(f.q)), Code: uint16(f.code),
	}
}

func scanSample(r pgx.Row, tag string) (model.Sample, error) {
	var f fields
	if err := r.Scan(f.ptrs()...); err != nil {
		return model.Sample{}, err
	}
	return f.sample(tag), nil
}

// seriesID returns the id of tag; ok is false when it has no samples.
func (s *Store) seriesID(ctx context.Context, tag string) (int32, bool, error) {
	s.mu.Lock()
	id, ok := s.series[tag]
	s.mu.Unlock()
	if ok {
		return id, true, nil
	}
	err := s.pool.QueryRow(ctx, `SELECT id FROM `+s.q+`.series WHERE tag = $1`, tag).Scan(&id)
	if err == pgx.ErrNoRows {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, errcode.Wrap(errcode.PGQuery, err, "look up tag %s", tag)
	}
	s.mu.Lock()
	s.series[tag] = id
	s.mu.Unlock()
	return id, true, nil
}

// Raw iterates the samples of tag with from <= Source < to.
func (s *Store) Raw(ctx context.Context, tag string, from, to int64) (historian.Iterator, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	id, ok, err := s.seriesID(ctx, tag)
	if err != nil {
		return nil, err
	}
	it := &iter{s: s, ctx: ctx, tag: tag, id: id, next: from, to: to}
	if !ok || from >= to {
		it.done = true
	}
	return it, nil
}

type iter struct {
	s    *Store
	ctx  context.Context
	tag  string
	id   int32
	next int64 // source time the next page starts at
	to   int64
	page []model.Sample
	pos  int
	cur  model.Sample
	done bool // no page after the current one
	err  error
}

func (it *iter) Next() bool {
	if it.err != nil {
		return false
	}
	for it.pos >= len(it.page) {
		if it.done {
			return false
		}
		if err := it.fetch(); err != nil {
			it.err = err
			return false
		}
	}
	it.cur = it.page[it.pos]
	it.pos++
	return true
}

func (it *iter) fetch() error {
	if err := it.s.check(); err != nil {
		return err
	}
	rows, err := it.s.pool.Query(it.ctx, `SELECT `+sampleCols+` FROM `+it.s.q+`.samples
		WHERE series_id = $1 AND source_ns >= $2 AND source_ns < $3
		ORDER BY source_ns LIMIT $4`, it.id, it.next, it.to, pageSize)
	if err != nil {
		return errcode.Wrap(errcode.PGQuery, err, "read %s", it.tag)
	}
	it.page = it.page[:0]
	it.pos = 0
	for rows.Next() {
		sm, err := scanSample(rows, it.tag)
		if err != nil {
			rows.Close()
			return errcode.Wrap(errcode.PGQuery, err, "read %s", it.tag)
		}
		it.page = append(it.page, sm)
	}
	if err := rows.Err(); err != nil {
		return errcode.Wrap(errcode.PGQuery, err, "read %s", it.tag)
	}
	if len(it.page) < pageSize {
		it.done = true
	} else {
		last := it.page[len(it.page)-1].Source
		it.next = last + 1 // last < to, so no overflow
	}
	return nil
}

func (it *iter) At() model.Sample { return it.cur }
func (it *iter) Err() error       { return it.err }
func (it *iter) Close() error {
	it.done, it.page, it.pos = true, nil, 0
	return nil
}

// Before returns the last sample of tag with Source < t.
func (s *Store) Before(ctx context.Context, tag string, t int64) (model.Sample, bool, error) {
	if err := s.check(); err != nil {
		return model.Sample{}, false, err
	}
	id, ok, err := s.seriesID(ctx, tag)
	if err != nil || !ok {
		return model.Sample{}, false, err
	}
	sm, err := scanSample(s.pool.QueryRow(ctx, `SELECT `+sampleCols+` FROM `+s.q+`.samples
		WHERE series_id = $1 AND source_ns < $2 ORDER BY source_ns DESC LIMIT 1`, id, t), tag)
	if err == pgx.ErrNoRows {
		return model.Sample{}, false, nil
	}
	if err != nil {
		return model.Sample{}, false, errcode.Wrap(errcode.PGQuery, err, "read %s before %d", tag, t)
	}
	return sm, true, nil
}

// Latest returns the newest sample of each tag from the latest table, in
// one query whatever the number of tags.
func (s *Store) Latest(ctx context.Context, tags []string) ([]model.Sample, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	out := make([]model.Sample, len(tags))
	for i, t := range tags {
		out[i] = model.Sample{Tag: t, Quality: model.BadWaitingForInitialData}
	}
	if len(tags) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT s.tag, `+prefixed("l.", sampleCols)+`
		FROM `+s.q+`.series s JOIN `+s.q+`.latest l ON l.series_id = s.id
		WHERE s.tag = ANY($1::text[])`, tags)
	if err != nil {
		return nil, errcode.Wrap(errcode.PGQuery, err, "read latest of %d tags", len(tags))
	}
	defer rows.Close()
	found := make(map[string]model.Sample, len(tags))
	for rows.Next() {
		var tag string
		var f fields
		if err := rows.Scan(append([]any{&tag}, f.ptrs()...)...); err != nil {
			return nil, errcode.Wrap(errcode.PGQuery, err, "read latest of %d tags", len(tags))
		}
		found[tag] = f.sample(tag)
	}
	if err := rows.Err(); err != nil {
		return nil, errcode.Wrap(errcode.PGQuery, err, "read latest of %d tags", len(tags))
	}
	for i, t := range tags {
		if sm, ok := found[t]; ok {
			out[i] = sm
		}
	}
	return out, nil
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = p + parts[i]
	}
	return strings.Join(parts, ", ")
}

// Tags lists stored tags that match glob with path.Match. The literal
// prefix of the pattern narrows the scan in SQL (as a LIKE parameter with
// its wildcards escaped); path.Match then decides, so the semantics are
// exactly Go's and nothing of the pattern is ever SQL text.
func (s *Store) Tags(ctx context.Context, glob string) ([]string, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if _, err := path.Match(glob, ""); err != nil {
		return nil, errcode.Wrap(errcode.PGGlob, err, "tag pattern %q", glob)
	}
	prefix := literalPrefix(glob)
	like := escapeLike(prefix) + "%"
	rows, err := s.pool.Query(ctx, `SELECT tag FROM `+s.q+`.series WHERE tag LIKE $1 ESCAPE '\' ORDER BY tag`, like)
	if err != nil {
		return nil, errcode.Wrap(errcode.PGQuery, err, "list tags matching %q", glob)
	}
	all, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, errcode.Wrap(errcode.PGQuery, err, "list tags matching %q", glob)
	}
	out := all[:0]
	for _, t := range all {
		if glob == "" {
			out = append(out, t)
			continue
		}
		if ok, _ := path.Match(glob, t); ok {
			out = append(out, t)
		}
	}
	sort.Strings(out) // Go's order, whatever the database collation
	return out, nil
}

// literalPrefix returns the part of glob before its first metacharacter,
// with escapes resolved.
func literalPrefix(glob string) string {
	var b strings.Builder
	for i := 0; i < len(glob); i++ {
		switch c := glob[i]; c {
		case '*', '?', '[':
			return b.String()
		case '\\':
			if i+1 < len(glob) {
				i++
				b.WriteByte(glob[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}
