package errcode

// Codes of the historian's embedded store: pebble, WAL, ingest (5100–5149).
const (
	StoreOpen      Code = 5100
	StoreWAL       Code = 5101
	StoreWrite     Code = 5102
	StoreRead      Code = 5103
	StoreClosed    Code = 5104
	StoreCorrupt   Code = 5105
	StoreIngest    Code = 5106
	StoreLedger    Code = 5107
	StoreBadOption Code = 5108

	// Retention and rollups (historian/store/retention.go, rollup.go).
	StoreRetention   Code = 5109
	StorePurge       Code = 5110
	StorePurgeLedger Code = 5111
	StoreRollup      Code = 5112
	StoreRollupArgs  Code = 5113
)

func init() {
	register(
		Entry{Code: StoreOpen, Name: "store.open_failed", Title: "the historian store cannot be opened",
			Causes: []string{"the data directory is missing, not writable or full", "another otlink process has the store open (pebble's LOCK file)"},
			Checks: []string{"permissions and free space of the historian directory", "`ps` for a second otlink using the same --data"},
			Fix:    "give otlink write access, free space, or stop the other process"},
		Entry{Code: StoreWAL, Name: "store.wal_failed", Title: "the historian's write-ahead log could not be written, synced or read",
			Causes: []string{"the disk is full or failing", "the wal directory was removed or made read-only"},
			Checks: []string{"free space and the kernel log (dmesg) for I/O errors"},
			Fix:    "free space or replace the disk; samples not acknowledged are redelivered by the bus"},
		Entry{Code: StoreWrite, Name: "store.write_failed", Title: "sealed chunks or series metadata could not be written",
			Causes: []string{"the disk is full or failing", "pebble reported a background error"},
			Checks: []string{"free space and the kernel log for I/O errors"},
			Fix:    "free space or replace the disk; the write-ahead log keeps the samples until they are sealed"},
		Entry{Code: StoreRead, Name: "store.read_failed", Title: "stored samples could not be read",
			Causes: []string{"a pebble read error", "a damaged chunk"},
			Checks: []string{"`otlink verify` for damaged ranges", "the kernel log for I/O errors"},
			Fix:    "restore the damaged range from a backup; other ranges stay readable"},
		Entry{Code: StoreClosed, Name: "store.closed", Title: "the historian store is closed",
			Causes: []string{"a write or query after shutdown began"},
			Checks: []string{"the order in which parts are stopped"},
			Fix:    "stop writers and queries before closing the store"},
		Entry{Code: StoreCorrupt, Name: "store.corrupt", Title: "a stored key or value of the historian is malformed",
			Causes: []string{"a file of the store edited or damaged", "data written by an incompatible version"},
			Checks: []string{"docs/formats/store.md against the damaged key", "`otlink verify`"},
			Fix:    "restore the store from a backup; keep the damaged copy as evidence"},
		Entry{Code: StoreIngest, Name: "store.ingest_failed", Title: "the historian stopped consuming samples from the bus",
			Causes: []string{"the bus connection is gone", "the durable consumer could not be created"},
			Checks: []string{"the bus status and log lines with code OTL-3xxx"},
			Fix:    "restore the bus; the consumer resumes where it acknowledged last"},
		Entry{Code: StoreLedger, Name: "store.ledger_failed", Title: "a sealed chunk could not be recorded in the integrity log",
			Causes: []string{"the integrity log is closed, read-only or its disk failing"},
			Checks: []string{"log lines with code OTL-505x"},
			Fix:    "fix the integrity log; the chunk stays pending and is recorded on the next open"},
		Entry{Code: StoreBadOption, Name: "store.bad_option", Title: "a historian store option is invalid",
			Causes: []string{"a negative or zero size, span or precision", "more samples per chunk than the chunk format allows"},
			Checks: []string{"the historian section of the config"},
			Fix:    "use positive values within the documented limits"},
		Entry{Code: StoreRetention, Name: "store.bad_retention", Title: "a historian retention rule is invalid",
			Causes: []string{"a malformed tag glob", "a negative duration", "a rule without a policy name"},
			Checks: []string{"the retention rules in the historian section of the config"},
			Fix:    "give each rule a valid glob, durations >= 0 (0 keeps forever) and a name"},
		Entry{Code: StorePurge, Name: "store.purge_failed", Title: "a retention purge could not delete expired data",
			Causes: []string{"the disk is full or failing", "chunks were still waiting to be recorded in the integrity log"},
			Checks: []string{"free space, and log lines with code OTL-5107 or OTL-505x"},
			Fix:    "fix the cause; the next purge deletes what this one left"},
		Entry{Code: StorePurgeLedger, Name: "store.purge_unrecorded", Title: "a retention purge could not be recorded, so nothing was deleted",
			Causes: []string{"the integrity log is closed, read-only or its disk failing", "the configured ledger cannot record purges"},
			Checks: []string{"log lines with code OTL-505x", "which ledger the store was given"},
			Fix:    "fix the integrity log; data is kept until its removal can be recorded"},
		Entry{Code: StoreRollup, Name: "store.rollup_failed", Title: "rollups could not be computed or written",
			Causes: []string{"a stored chunk could not be read", "the disk is full or failing"},
			Checks: []string{"`otlink verify` for damaged ranges", "free space"},
			Fix:    "fix the cause; the intervals stay marked and are computed on the next pass"},
		Entry{Code: StoreRollupArgs, Name: "store.rollup_args", Title: "a rollup request is invalid",
			Causes: []string{"a level other than 1m or 1h", "a range with more rows than one answer may hold", "a non-positive interval"},
			Checks: []string{"the request's level and range"},
			Fix:    "ask for 1m or 1h over a shorter range"},
	)
}
