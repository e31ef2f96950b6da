package e2e

import (
	"strings"
	"testing"
)

func TestKeyHistory(t *testing.T) {
	c := func(op byte, v int64) change { return change{Op: op, Version: v} }
	tests := []struct {
		name    string
		events  []change
		want    []change // expected committed changes
		problem string   // substring of the first problem, "" for none
	}{
		{name: "clean", events: []change{c('c', 1), c('u', 2), c('d', 2)}, want: []change{c('c', 1), c('u', 2), c('d', 2)}},
		{name: "suffix redelivery", events: []change{c('c', 1), c('u', 2), c('u', 3), c('u', 2), c('u', 3), c('u', 4)},
			want: []change{c('c', 1), c('u', 2), c('u', 3), c('u', 4)}},
		{name: "backwards", events: []change{c('c', 1), c('u', 3), c('u', 2)}, problem: "goes backwards"},
		{name: "gap in redelivery", events: []change{c('c', 1), c('u', 2), c('u', 3), c('u', 2), c('u', 4)}, problem: "while re-delivering"},
		{name: "missing", events: []change{c('c', 1), c('u', 3)}, want: []change{c('c', 1), c('u', 2), c('u', 3)}, problem: "missing [u2]"},
		{name: "snapshot summarises", events: []change{c('r', 3), c('u', 4)}, want: []change{c('c', 1), c('u', 2), c('u', 3), c('u', 4)}},
		{name: "snapshot redone later", events: []change{c('r', 1), c('r', 3), c('u', 4)}, want: []change{c('c', 1), c('u', 2), c('u', 3), c('u', 4)}},
		{name: "delete missing", events: []change{c('c', 1)}, want: []change{c('c', 1), c('d', 1)}, problem: "missing [d1]"},
	}
	for _, tt := range tests {

		t.Run(tt.name, func(t *testing.T) {
			k := newChecker()
			for _, e := range tt.events {
				k.add(7, e, 0)
			}
			var want []committed
			for _, w := range tt.want {
				want = append(want, committed{change: w, lo: 10, hi: 11})
			}
			problems := k.verify(map[int64][]committed{7: want})
			if tt.problem == "" {
				if len(problems) > 0 {
					t.Fatalf("unexpected problems: %v", problems)
				}
				return
			}
			if len(problems) == 0 || !strings.Contains(problems[0], tt.problem) {
				t.Fatalf("problems = %v, want one containing %q", problems, tt.problem)
			}
		})
	}
}

func TestSnapshotPointSummarises(t *testing.T) {
	k := newChecker()
	k.add(1, change{'r', 3}, 100)
	k.add(1, change{'u', 4}, 0)
	want := map[int64][]committed{
		1: {{change{'c', 1}, 0, 0}, {change{'u', 2}, 50, 60}, {change{'u', 3}, 90, 110}, {change{'u', 4}, 120, 130}},
		// Created and deleted before the snapshot: no events needed.
		2: {{change{'c', 1}, 10, 20}, {change{'d', 1}, 30, 40}},
	}
	if p := k.verify(want); len(p) > 0 {
		t.Fatalf("unexpected problems: %v", p)
	}
	// A change after the snapshot point must arrive.
	want[2] = append(want[2], committed{change{'c', 2}, 200, 210})
	if p := k.verify(want); len(p) != 1 {
		t.Fatalf("problems = %v, want one for key 2", p)
	}
}
