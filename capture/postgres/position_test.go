package postgres

import (
	"errors"
	"testing"
)

func TestPositionRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		p    position
		want string
	}{
		{position{LSN: 0x16B3748}, `{"v":1,"lsn":"0/16B3748"}`},
		{position{LSN: 0x1600000001, Tx: &txPosition{Xid: 771, Commit: 0x16B5A10, N: 2048}}, `{"v":1,"lsn":"16/1","tx":{"xid":771,"commit":"0/16B5A10","n":2048}}`},
		{position{LSN: 5, Snapshot: &snapPos{}}, `{"v":1,"lsn":"0/5","snapshot":{}}`},
	} {
		b := tt.p.encode()
		if string(b) != tt.want {
			t.Errorf("encode = %s, want %s", b, tt.want)
		}
		got, err := decodePosition(b)
		if err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
		if string(got.encode()) != tt.want {
			t.Errorf("round trip of %s gave %s", tt.want, got.encode())
		}
	}
}

func TestDecodePositionErrors(t *testing.T) {
	for _, in := range []string{"", "x", `{"v":2,"lsn":"0/1"}`, `{"v":1,"lsn":"zz"}`, `{"v":1,"lsn":"0/1","tx":{"xid":1,"commit":"0/0","n":1}}`} {
		if _, err := decodePosition([]byte(in)); !errors.Is(err, ErrBadPosition) {
			t.Errorf("decodePosition(%q) = %v, want ErrBadPosition", in, err)
		}
	}
}

func TestPositionAfter(t *testing.T) {
	a := position{LSN: 10}
	b := position{LSN: 10, Tx: &txPosition{Xid: 1, Commit: 20, N: 5}}
	c := position{LSN: 10, Tx: &txPosition{Xid: 1, Commit: 20, N: 6}}
	d := position{LSN: 20}
	order := []position{a, b, c, d}
	for i := range order {
		for j := range order {
			if got, want := order[i].after(order[j]), i > j; got != want {
				t.Errorf("%d.after(%d) = %v, want %v", i, j, got, want)
			}
		}
	}
}

func FuzzDecodePosition(f *testing.F) {
	f.Add([]byte(`{"v":1,"lsn":"0/16B3748","tx":{"xid":771,"commit":"0/16B5A10","n":2048}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePosition(b)
		if err != nil {
			return
		}
		q, err := decodePosition(p.encode())
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if string(q.encode()) != string(p.encode()) {
			t.Fatalf("unstable encoding")
		}
	})
}
