package runtime

import (
	"reflect"
	"testing"
)

func TestBalance(t *testing.T) {
	work := []string{"c:a", "c:b", "c:c", "t:a:0", "t:a:1", "t:b:0", "t:c:0"}
	tests := []struct {
		name        string
		members     []string
		owned       map[string][]string
		want        map[string][]string
		wantRevoked int
	}{
		{
			name:    "first assignment spreads connectors and tasks",
			members: []string{"m1", "m2", "m3"},
			want: map[string][]string{
				"m1": {"c:a", "t:a:0", "t:c:0"},
				"m2": {"c:b", "t:a:1"},
				"m3": {"c:c", "t:b:0"},
			},
		},
		{
			name:    "a dead member's work goes to the survivors, nothing else moves",
			members: []string{"m1", "m3"},
			owned: map[string][]string{
				"m1": {"c:a", "t:a:0", "t:c:0"},
				"m3": {"c:c", "t:b:0"},
			},
			want: map[string][]string{
				"m1": {"c:a", "c:b", "t:a:0", "t:c:0"},
				"m3": {"c:c", "t:a:1", "t:b:0"},
			},
		},
		{
			name:    "a joining member gets work only once it was revoked",
			members: []string{"m1", "m2", "m3"},
			owned: map[string][]string{
				"m1": {"c:a", "t:a:0", "t:c:0"},
				"m3": {"c:b", "c:c", "t:a:1", "t:b:0"},
			},
			want: map[string][]string{
				"m1": {"c:a", "t:a:0", "t:c:0"},
				"m2": nil,
				"m3": {"c:b", "t:a:1"},
			},
			wantRevoked: 2,
		},
		{
			name:    "the round after revocation assigns the revoked work",
			members: []string{"m1", "m2", "m3"},
			owned: map[string][]string{
				"m1": {"c:a", "t:a:0", "t:c:0"},
				"m3": {"c:b", "t:a:1"},
			},
			want: map[string][]string{
				"m1": {"c:a", "t:a:0", "t:c:0"},
				"m2": {"c:c", "t:b:0"},
				"m3": {"c:b", "t:a:1"},
			},
		},
		{
			name:    "deleted work is dropped and a unit owned twice stays with the first owner",
			members: []string{"m1", "m2"},
			owned: map[string][]string{
				"m1": {"c:gone", "t:a:0"},
				"m2": {"t:a:0"},
			},
			want: map[string][]string{
				"m1": {"c:a", "c:c", "t:a:0", "t:b:0"},
				"m2": {"c:b", "t:a:1", "t:c:0"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, revoked := balance(tt.members, tt.owned, work)
			for m, units := range got {
				if len(units) == 0 {
					got[m] = nil
				}
			}
			for m, units := range tt.want {
				if len(units) == 0 {
					tt.want[m] = nil
				}
			}
			if !reflect.DeepEqual(got, tt.want) || revoked != tt.wantRevoked {
				t.Errorf("balance = %v (revoked %d), want %v (revoked %d)", got, revoked, tt.want, tt.wantRevoked)
			}
		})
	}
}

func TestParseUnit(t *testing.T) {
	tests := []struct {
		unit string
		name string
		id   int
		ok   bool
	}{
		{connectorUnit("a:b"), "a:b", -1, true},
		{taskUnit("a:b", 3), "a:b", 3, true},
		{"t:a", "", 0, false},
		{"t:a:-1", "", 0, false},
		{"x:a", "", 0, false},
	}
	for _, tt := range tests {
		name, id, ok := parseUnit(tt.unit)
		if name != tt.name || id != tt.id || ok != tt.ok {
			t.Errorf("parseUnit(%q) = %q, %d, %v; want %q, %d, %v", tt.unit, name, id, ok, tt.name, tt.id, tt.ok)
		}
	}
}
