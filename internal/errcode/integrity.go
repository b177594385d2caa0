package errcode

// Integrity log codes, 5050-5099.
const (
	IntegrityOpen          Code = 5050
	IntegrityCorrupt       Code = 5051
	IntegrityBadEntry      Code = 5052
	IntegrityWrite         Code = 5053
	IntegrityKey           Code = 5054
	IntegrityBadCheckpoint Code = 5055
	IntegrityInconsistent  Code = 5056
	IntegrityOutOfRange    Code = 5057
	IntegrityClosed        Code = 5058
	IntegrityBadBundle     Code = 5059
	IntegrityReadOnly      Code = 5060
)

func init() {
	register(
		Entry{Code: IntegrityOpen, Name: "integrity.open_failed",
			Title:  "integrity log cannot be opened",
			Causes: []string{"the data directory does not exist or is not writable", "another process holds the files", "the disk is full"},
			Checks: []string{"permissions and free space of the data directory (integrity/ below it)"},
			Fix:    "give the otlink user write access to the directory, free space, or point --data at the right directory"},
		Entry{Code: IntegrityCorrupt, Name: "integrity.corrupt_store",
			Title:  "integrity log files are damaged beyond a torn last write",
			Causes: []string{"a file was edited, truncated in the middle or replaced", "a file from another format version", "disk corruption"},
			Checks: []string{"run otlink verify --data DIR to see which entries are affected", "the file headers against docs/formats/integrity.md"},
			Fix:    "restore the integrity directory from a backup and verify it against exported checkpoints; keep the damaged copy as evidence"},
		Entry{Code: IntegrityBadEntry, Name: "integrity.bad_entry",
			Title:  "integrity log entry is invalid and was not appended",
			Causes: []string{"an unknown entry kind", "a string longer than 65535 bytes", "a time outside 1678..2262", "leaf indexes not strictly increasing or beyond the log"},
			Checks: []string{"the entry fields against docs/formats/integrity.md"},
			Fix:    "fix the caller that builds the entry; nothing of the batch was stored"},
		Entry{Code: IntegrityWrite, Name: "integrity.write_failed",
			Title:  "integrity log could not write or sync its files",
			Causes: []string{"the disk is full or failing", "the directory was removed or made read-only"},
			Checks: []string{"free space and kernel log (dmesg) for I/O errors"},
			Fix:    "free space or replace the disk; the log repairs a torn last batch on the next open"},
		Entry{Code: IntegrityKey, Name: "integrity.key",
			Title:  "checkpoint signing key is missing, unreadable or does not match",
			Causes: []string{"checkpoint.key was deleted or its permissions changed", "the configured origin differs from the key's name", "the key file was edited"},
			Checks: []string{"checkpoint.key (mode 0600) and checkpoint.pub in the integrity directory"},
			Fix:    "restore the key files from backup; never generate a new key silently, witnesses trust the old one"},
		Entry{Code: IntegrityBadCheckpoint, Name: "integrity.bad_checkpoint",
			Title:  "checkpoint cannot be parsed or its signature does not verify",
			Causes: []string{"the file is not a C2SP tlog-checkpoint signed note", "it was signed by another key than the one trusted", "the file was altered"},
			Checks: []string{"the checkpoint's origin line and signature line against the trusted verifier key"},
			Fix:    "pass the verifier key of the log that signed it, or obtain an unaltered copy of the checkpoint"},
		Entry{Code: IntegrityInconsistent, Name: "integrity.inconsistent_checkpoint",
			Title:  "checkpoint does not match this log's tree",
			Causes: []string{"entries of the log were rewritten, removed or reordered after the checkpoint was signed", "the checkpoint belongs to another log with the same origin"},
			Checks: []string{"otlink verify --checkpoint FILE reports the range that differs"},
			Fix:    "treat the log as tampered: keep the files as evidence and restore from a backup that verifies"},
		Entry{Code: IntegrityOutOfRange, Name: "integrity.out_of_range",
			Title:  "leaf index or tree size is beyond the log",
			Causes: []string{"a proof was asked for a tree larger than the log", "an index at or after the tree size"},
			Checks: []string{"the log size (otlink verify shows it)"},
			Fix:    "ask for indexes below the tree size and sizes up to it"},
		Entry{Code: IntegrityClosed, Name: "integrity.closed",
			Title:  "integrity log is closed",
			Causes: []string{"a call after Close, during shutdown"},
			Checks: []string{"the order in which parts stop"},
			Fix:    "stop writers before closing the log"},
		Entry{Code: IntegrityBadBundle, Name: "integrity.bad_bundle",
			Title:  "evidence bundle cannot be read",
			Causes: []string{"the file is not an otlink evidence bundle", "it was truncated or edited"},
			Checks: []string{"the file's first bytes: a JSON object with \"format\": \"otlink-integrity-bundle/1\""},
			Fix:    "obtain the bundle again from the node that wrote it"},
		Entry{Code: IntegrityReadOnly, Name: "integrity.read_only",
			Title:  "integrity log was opened read-only",
			Causes: []string{"an append or signature on a log opened for verification"},
			Checks: []string{"Options.ReadOnly"},
			Fix:    "open the log without ReadOnly in the process that owns it"},
	)
}
