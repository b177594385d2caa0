package errcode

// Codes of the historian: chunks, aggregates and queries (5000–5049).
const (
	HistChunkCorrupt   Code = 5000
	HistChunkTruncated Code = 5001
	HistChunkVersion   Code = 5002
	HistChunkType      Code = 5003
	HistChunkOrder     Code = 5004
	HistChunkFull      Code = 5005
	HistAggArgs        Code = 5006
	HistAggOrder       Code = 5007
)

func init() {
	register(
		Entry{Code: HistChunkCorrupt, Name: "historian.chunk_corrupt", Title: "a stored chunk failed its checksum or is malformed",
			Causes: []string{"a bit flip on disk or in memory", "a chunk file edited or truncated by hand", "a bug in the writer of an older version"},
			Checks: []string{"`otlink verify` reports which range is tampered or damaged", "the disk's SMART status and the kernel log for I/O errors"},
			Fix:    "restore the range from a backup or a replica; the rest of the store is still readable"},
		Entry{Code: HistChunkTruncated, Name: "historian.chunk_truncated", Title: "a stored chunk ends before its declared length",
			Causes: []string{"a write interrupted before the chunk was sealed", "a file copied partially"},
			Checks: []string{"free disk space at the time of the write", "whether the file was copied while otlink was running"},
			Fix:    "restore the range from a backup or a replica; a partial chunk is never used"},
		Entry{Code: HistChunkVersion, Name: "historian.chunk_version", Title: "a chunk has a format version this otlink does not know",
			Causes: []string{"data written by a newer otlink", "a damaged header"},
			Checks: []string{"`otlink version` on the machine that wrote the data"},
			Fix:    "upgrade otlink to the version that wrote the data or newer"},
		Entry{Code: HistChunkType, Name: "historian.chunk_type", Title: "a sample's value type differs from its chunk's type",
			Causes: []string{"the tag's data type was changed in the config while data kept flowing"},
			Checks: []string{"the tag's type in the config and the type of the sample"},
			Fix:    "seal the open chunk and start a new one for the new type (the historian does this itself)"},
		Entry{Code: HistChunkOrder, Name: "historian.chunk_order", Title: "a sample is older than the last one in its chunk, or belongs to another tag",
			Causes: []string{"late or backfilled data appended to an open chunk", "a clock that stepped back"},
			Checks: []string{"the source timestamps of the device, its clock and time zone settings"},
			Fix:    "write late data as an amending segment (the historian does this itself)"},
		Entry{Code: HistChunkFull, Name: "historian.chunk_full", Title: "a chunk holds its maximum number of samples",
			Causes: []string{"the writer did not seal the chunk when it was full"},
			Checks: []string{"the chunk size setting"},
			Fix:    "seal the chunk and start a new one"},
		Entry{Code: HistAggArgs, Name: "historian.agg_args", Title: "an aggregate or decimation query has invalid arguments",
			Causes: []string{"end not after start", "a processing interval of zero or less", "more buckets than allowed"},
			Checks: []string{"the query's start, end, interval and bucket count"},
			Fix:    "choose an end after the start and a positive interval that gives at most 100000 buckets"},
		Entry{Code: HistAggOrder, Name: "historian.agg_order", Title: "samples given to an aggregate are not sorted by source time",
			Causes: []string{"a reader that merges segments returned them out of order"},
			Checks: []string{"the order of the samples of the reader"},
			Fix:    "sort the samples by source time before aggregating"},
	)
}
