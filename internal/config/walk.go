package config

// EachMachine calls fn for every machine of the plant, a line's own
// machines before its cells' ones, with the names above it: enterprise,
// site, area, line and, in a cell, the cell. The prefix slice is reused
// between calls: fn must copy it to keep it.
//
// It is the one walk of the hierarchy for code outside this package (the
// engine, the write dialog, the historian's tag index, the MTConnect
// agent), so that a new level of the hierarchy is added in one place.
func EachMachine(c *Config, fn func(m *Machine, prefix []string)) {
	prefix := make([]string, 0, 5)
	for si := range c.Plant.Sites {
		s := &c.Plant.Sites[si]
		for ai := range s.Areas {
			a := &s.Areas[ai]
			for li := range a.Lines {
				l := &a.Lines[li]
				prefix = append(prefix[:0], c.Plant.Enterprise, s.Name, a.Name, l.Name)
				for mi := range l.Machines {
					fn(&l.Machines[mi], prefix)
				}
				for ci := range l.Cells {
					cell := &l.Cells[ci]
					prefix = append(prefix[:4], cell.Name)
					for mi := range cell.Machines {
						fn(&cell.Machines[mi], prefix)
					}
				}
			}
		}
	}
}
