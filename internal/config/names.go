package config

// validName reports whether s can be a path segment: letters, digits, '_'
// and '-', 1 to 64 of them. Names become tag paths, MQTT topics and NATS
// subject tokens, where '/', '.', spaces and wildcards have meaning.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// sanitizeName turns s into a valid name by replacing every other
// character with '_' (Kepware's "Spindle.Speed" becomes "Spindle_Speed").
func sanitizeName(s string) string {
	b := []rune(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}

// closest returns the candidate nearest to s by edit distance, when it is
// near enough to be a likely typing error.
func closest(s string, candidates []string) (string, bool) {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	limit := 2
	if len(s) >= 9 {
		limit = 3
	}
	return best, best != "" && bestD <= limit && bestD < len(s)
}

// editDistance is the Levenshtein distance, bounded in cost by the short
// strings it is given (keys and names).
func editDistance(a, b string) int {
	if len(a) > 128 || len(b) > 128 {
		return 1 << 20
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
