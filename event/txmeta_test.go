package event

import (
	"fmt"
	"strings"
	"testing"
)

// The expected values below were printed by OpenJDK 17 (String.hashCode and
// the key order of a HashMap<String, Long> filled in the given order).
func TestJavaStringHash(t *testing.T) {
	tests := []struct {
		s    string
		want int32
	}{
		{"", 0}, {"hello", 99162322}, {"s1.a", 3474577}, {"public.customers", -657108208},
		{"x\U0001F600é", 58535022}, // a surrogate pair: two UTF-16 code units
	}
	for _, tt := range tests {
		if got := int32(javaStringHash(tt.s)); got != tt.want {
			t.Errorf("javaStringHash(%q) = %d, want %d", tt.s, got, tt.want)
		}
	}
}

func TestJavaHashMapOrder(t *testing.T) {
	var many []string
	for i := range 20 { // more than 12 keys: the table grows to 32 buckets
		many = append(many, fmt.Sprintf("t%02d", i))
	}
	tests := []struct {
		in   []string
		want string
	}{
		{[]string{"s2.a", "s1.a"}, "s1.a,s2.a"},
		{[]string{"BB", "Aa"}, "BB,Aa"}, // same hash: insertion order
		{[]string{"public.orders", "public.customers", "LOGICAL_DECODING_MESSAGE", "inventory.products"},
			"public.orders,public.customers,LOGICAL_DECODING_MESSAGE,inventory.products"},
		{[]string{"inventory.products", "LOGICAL_DECODING_MESSAGE", "public.customers", "public.orders"},
			"public.customers,public.orders,LOGICAL_DECODING_MESSAGE,inventory.products"},
		{many, "t10,t01,t12,t00,t11,t03,t14,t02,t13,t05,t16,t04,t15,t07,t18,t06,t17,t09,t08,t19"},
		{[]string{"zeta.b", "alpha.a", "x\U0001F600é.t"}, "alpha.a,x\U0001F600é.t,zeta.b"},
		{nil, ""},
	}
	for _, tt := range tests {
		if got := strings.Join(DataCollectionOrder(tt.in), ","); got != tt.want {
			t.Errorf("DataCollectionOrder(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
