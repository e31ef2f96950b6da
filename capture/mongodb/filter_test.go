package mongodb

import (
	"context"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/sluice-cdc/sluice/event"
)

func TestNSFilter(t *testing.T) {
	names := []namespace{{"inventory", "orders"}, {"inventory", "customers"}, {"inventory", "orders_2024"}, {"shop", "orders"}, {"shop", "carts"}, {"shopping", "lists"}}
	for _, c := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"no lists", Config{}, []string{"inventory.orders", "inventory.customers", "inventory.orders_2024", "shop.orders", "shop.carts", "shopping.lists"}},
		{"database include is anchored", Config{DatabaseIncludeList: List{"shop"}}, []string{"shop.orders", "shop.carts"}},
		{"database include regex", Config{DatabaseIncludeList: List{"shop.*"}}, []string{"shop.orders", "shop.carts", "shopping.lists"}},
		{"database exclude", Config{DatabaseExcludeList: List{"inventory", "shopping"}}, []string{"shop.orders", "shop.carts"}},
		// The dot of db.collection is a regex dot unless escaped; the
		// expression must match the whole name (orders_2024 is not orders).
		{"collection include", Config{CollectionIncludeList: List{`inventory\.orders`, `shop\..*`}}, []string{"inventory.orders", "shop.orders", "shop.carts"}},
		{"collection exclude", Config{CollectionExcludeList: List{`.*\.orders`}}, []string{"inventory.customers", "inventory.orders_2024", "shop.carts", "shopping.lists"}},
		{"both kinds", Config{DatabaseIncludeList: List{"inventory"}, CollectionExcludeList: List{`.*\.orders.*`}}, []string{"inventory.customers"}},
		{"scope deployment", Config{CaptureScope: ScopeDeployment}, []string{"inventory.orders", "inventory.customers", "inventory.orders_2024", "shop.orders", "shop.carts", "shopping.lists"}},
		{"scope database", Config{CaptureScope: ScopeDatabase, CaptureTarget: "shop"}, []string{"shop.orders", "shop.carts"}},
		{"scope database and a list", Config{CaptureScope: ScopeDatabase, CaptureTarget: "inventory", CollectionExcludeList: List{`.*_2024`}}, []string{"inventory.orders", "inventory.customers"}},
		{"scope collection", Config{CaptureScope: ScopeCollection, CaptureTarget: "shop.orders"}, []string{"shop.orders"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			f, err := newNSFilter(c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ns := range names {
				if f.captures(ns) {
					got = append(got, ns.String())
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("captured %q, want %q", got, c.want)
			}
		})
	}
}

func TestFilterConfigValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"bad regex", Config{CollectionIncludeList: List{"a.(b"}}, `collection.include.list[0]: bad regular expression "a.(b"`},
		{"database lists together", Config{DatabaseIncludeList: List{"a"}, DatabaseExcludeList: List{"b"}}, "database.exclude.list: cannot be used together with database.include.list"},
		{"collection lists together", Config{CollectionIncludeList: List{"a"}, CollectionExcludeList: List{"b"}}, "collection.exclude.list: cannot be used together with collection.include.list"},
		{"field without collection", Config{FieldExcludeList: List{"db.name"}}, `field.exclude.list: "db.name" must be databaseName.collectionName.fieldName`},
		{"field with empty segment", Config{FieldExcludeList: List{"db.c.a..b"}}, `"db.c.a..b" must be`},
		{"unknown scope", Config{CaptureScope: "cluster"}, `capture.scope: unknown capture scope "cluster"`},
		{"database scope without target", Config{CaptureScope: ScopeDatabase}, `capture.target: capture.scope database needs the database name, got ""`},
		{"collection scope with a database", Config{CaptureScope: ScopeCollection, CaptureTarget: "shop"}, `capture.target: capture.scope collection needs db.collection, got "shop"`},
		{"target without scope", Config{CaptureTarget: "shop"}, "capture.target: has no effect with capture.scope deployment"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Validate() = %v, want %q", err, c.want)
			}
		})
	}
	ok := Config{DatabaseIncludeList: List{"a"}, CollectionExcludeList: List{`a\.b`}, FieldExcludeList: List{"*.users.password", "inventory.*.address.zip"}}
	if err := ok.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
}

func TestExcludedFields(t *testing.T) {
	rules, err := parseFieldRules(List{"*.users.password", "inventory.*.address.zip", "inv.c.x", "a*b.c.y"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ns   namespace
		want []string
	}{
		{namespace{"inventory", "users"}, []string{"password", "address.zip"}},
		{namespace{"shop", "users"}, []string{"password"}},
		{namespace{"inventory", "orders"}, []string{"address.zip"}},
		{namespace{"inv", "c"}, []string{"x"}},
		{namespace{"inv", "cc"}, nil},           // names without * are exact
		{namespace{"a.xb", "c"}, []string{"y"}}, // * matches any characters, a dot too
		{namespace{"axbz", "c"}, nil},
	} {
		if got := excludedFields(rules, c.ns); !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, want %q", c.ns, got, c.want)
		}
	}
}

func extJSON(t *testing.T, s string) bson.Raw {
	t.Helper()
	var d bson.D
	if err := bson.UnmarshalExtJSON([]byte(s), false, &d); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	raw, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestPruneDocument(t *testing.T) {
	doc := `{"_id": 1, "name": "a", "password": "x", "address": {"city": "c", "zip": "z", "geo": {"lat": 1.5}}, "tags": [{"zip": 1}]}`
	for _, c := range []struct {
		paths []string
		want  string
	}{
		{nil, `{"_id": 1,"name": "a","password": "x","address": {"city": "c","zip": "z","geo": {"lat": 1.5}},"tags": [{"zip": 1}]}`},
		{[]string{"password"}, `{"_id": 1,"name": "a","address": {"city": "c","zip": "z","geo": {"lat": 1.5}},"tags": [{"zip": 1}]}`},
		{[]string{"address.zip", "address.geo.lat", "missing", "name.sub"}, `{"_id": 1,"name": "a","password": "x","address": {"city": "c","geo": {}},"tags": [{"zip": 1}]}`},
		{[]string{"address", "tags.zip"}, `{"_id": 1,"name": "a","password": "x","tags": [{"zip": 1}]}`},
	} {
		got, err := pruneDocument(extJSON(t, doc), c.paths)
		if err != nil {
			t.Fatal(err)
		}
		s, err := documentJSON(got)
		if err != nil {
			t.Fatal(err)
		}
		if s != c.want {
			t.Errorf("%q:\n got %s\nwant %s", c.paths, s, c.want)
		}
	}
}

// TestFieldExcludeChangeEvent applies field.exclude.list to MongoDB's
// documented update event (testdata/changes/update.json): updated and
// removed fields below an excluded path go, as does the excluded part of
// an updated sub-document.
func TestFieldExcludeChangeEvent(t *testing.T) {
	c := newConverter("fulfillment", true, fixedNow)
	c.fields, _ = parseFieldRules(List{"engineering.users.address.zip", "engineering.users.email", "*.users.tags", "other.users.age"})
	ev, ok, err := c.change(readChange(t, "testdata/changes/update.json"), namespace{"x", "y"})
	if err != nil || !ok {
		t.Fatalf("change: %v %v", ok, err)
	}
	v, err := ev.Value()
	if err != nil {
		t.Fatal(err)
	}
	ud := v.Get("updateDescription").(*event.Struct)
	if got, want := ud.Get("updatedFields"), `{"address.city": "Springfield", "age": 32}`; got != want {
		t.Errorf("updatedFields = %v, want %s", got, want)
	}
	if got, want := ud.Get("removedFields"), []any{"phoneNumber"}; !slices.Equal(got.([]any), want) {
		t.Errorf("removedFields = %v, want %v", got, want)
	}

	upd, _, err := pruneUpdate(extJSON(t, `{"address": {"city": "c", "zip": "z"}, "address.zip": "q", "n": 1}`), nil, []string{"address.zip"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := relaxedJSON(upd); got != `{"address": {"city": "c"}, "n": 1}` {
		t.Errorf("pruned updatedFields = %s", got)
	}
}

// TestIncludeListsAndFieldExclude runs a source with an empty tables list
// against the stand-in server: the include and exclude lists choose the
// collections found at start, and field.exclude.list removes fields from
// snapshot reads and streamed inserts.
func TestIncludeListsAndFieldExclude(t *testing.T) {
	ctx := context.Background()
	c, url := connect(t)
	db := freshDB(t, c, "users", "orders", "orders_old")
	other := freshDB(t, c, "users")
	for _, coll := range []string{"users", "orders", "orders_old"} {
		if _, err := db.Collection(coll).InsertOne(ctx, bson.D{{Key: "_id", Value: int32(1)}, {Key: "secret", Value: "s"}, {Key: "n", Value: int32(1)}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := other.Collection("users").InsertOne(ctx, bson.D{{Key: "_id", Value: int32(1)}}); err != nil {
		t.Fatal(err)
	}
	cfg := fastPoll
	cfg.DatabaseIncludeList = List{db.Name()}
	cfg.CollectionExcludeList = List{`.*\.orders_old`}
	cfg.FieldExcludeList = List{db.Name() + ".users.secret"}
	_, col := run(t, cfg, Options{Name: "m", TopicPrefix: "srv", URL: url})
	col.wait(t, 2)
	// Changes to collections not captured come first, so that they would
	// be there by the time the captured ones are.
	for _, coll := range []*mongo.Collection{db.Collection("orders_old"), other.Collection("users")} {
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: int32(2)}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Collection("users").InsertOne(ctx, bson.D{{Key: "_id", Value: int32(2)}, {Key: "secret", Value: "s"}, {Key: "n", Value: int32(2)}}); err != nil {
		t.Fatal(err)
	}
	col.wait(t, 3)
	if _, err := db.Collection("orders").InsertOne(ctx, bson.D{{Key: "_id", Value: int32(2)}, {Key: "secret", Value: "s"}}); err != nil {
		t.Fatal(err)
	}
	col.wait(t, 4)
	col.mu.Lock()
	evs := slices.Clone(col.events)
	col.mu.Unlock()
	var got []string
	for _, ev := range evs {
		b := briefOf(t, ev)
		got = append(got, b.DB+"."+b.Coll+" "+b.Op+" "+b.After)
	}
	// The snapshot reads the collections in name order.
	d := db.Name()
	want := []string{
		d + `.orders r {"_id": 1,"secret": "s","n": 1}`,
		d + `.users r {"_id": 1,"n": 1}`,
		d + `.users c {"_id": 2,"n": 2}`,
		d + `.orders c {"_id": 2,"secret": "s"}`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("events:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
