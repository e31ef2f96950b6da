package avroconv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// parseJV reads one JSON document into a jv, keeping object key order (the
// order of connect.parameters matters to Connect schema equality).
func parseJV(data []byte) (*jv, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readJV(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("trailing data after JSON value")
	}
	return v, nil
}

func readJV(dec *json.Decoder) (*jv, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case nil:
		return jNull(), nil
	case bool:
		return &jv{kind: 'b', b: t}, nil
	case string:
		return jStr(t), nil
	case json.Number:
		if !strings.ContainsAny(string(t), ".eE") {
			return &jv{kind: 'i', i: string(t)}, nil
		}
		f, err := t.Float64()
		if err != nil {
			return nil, err
		}
		return &jv{kind: 'd', f: f}, nil
	case json.Delim:
		switch t {
		case '[':
			out := &jv{kind: 'a', arr: []*jv{}}
			for dec.More() {
				e, err := readJV(dec)
				if err != nil {
					return nil, err
				}
				out.arr = append(out.arr, e)
			}
			_, err := dec.Token()
			return out, err
		case '{':
			out := &jv{kind: 'o'}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := readJV(dec)
				if err != nil {
					return nil, err
				}
				out.put(k, v)
			}
			_, err := dec.Token()
			return out, err
		}
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

// parseSchema reads Avro schema JSON (as a registry returns it) into the
// node tree the codec walks. Enums and fixed types, which AvroData does not
// produce with Sluice's settings, are read as string and bytes.
func parseSchema(data []byte) (*node, error) {
	v, err := parseJV(data)
	if err != nil {
		return nil, fmt.Errorf("parse avro schema: %w", err)
	}
	p := &schemaParser{named: map[string]*node{}}
	n, err := p.node(v, "")
	if err != nil {
		return nil, fmt.Errorf("parse avro schema: %w", err)
	}
	return n, nil
}

type schemaParser struct {
	named map[string]*node
}

var primitiveTypes = map[string]bool{"null": true, "boolean": true, "int": true, "long": true,
	"float": true, "double": true, "bytes": true, "string": true}

var reservedKeys = map[string]bool{"type": true, "name": true, "namespace": true, "doc": true,
	"fields": true, "items": true, "values": true, "symbols": true, "size": true, "aliases": true, "default": true}

func (p *schemaParser) fullName(name, space string) (string, string) {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[:i], name[i+1:]
	}
	return space, name
}

func (p *schemaParser) node(v *jv, space string) (*node, error) {
	switch v.kind {
	case 's':
		if primitiveTypes[v.s] {
			return &node{typ: v.s}, nil
		}
		sp, nm := p.fullName(v.s, space)
		full := nm
		if sp != "" {
			full = sp + "." + nm
		}
		if n, ok := p.named[full]; ok {
			return n, nil
		}
		if n, ok := p.named[v.s]; ok {
			return n, nil
		}
		return nil, fmt.Errorf("unknown type %q", v.s)
	case 'a':
		u := &node{typ: "union"}
		for _, b := range v.arr {
			bn, err := p.node(b, space)
			if err != nil {
				return nil, err
			}
			u.branches = append(u.branches, bn)
		}
		return u, nil
	case 'o':
	default:
		return nil, fmt.Errorf("bad schema JSON kind %q", v.kind)
	}
	t := v.get("type")
	if t == nil {
		return nil, fmt.Errorf("schema object without type")
	}
	if t.kind != 's' {
		return p.node(t, space) // {"type": {...}} or {"type": [...]}
	}
	n := &node{typ: t.s}
	switch t.s {
	case "record", "error", "enum", "fixed":
		nameV := v.get("name")
		if nameV == nil || nameV.kind != 's' {
			return nil, fmt.Errorf("%s without name", t.s)
		}
		sp := space
		if ns := v.get("namespace"); ns != nil && ns.kind == 's' {
			sp = ns.s
		}
		n.space, n.name = p.fullName(nameV.s, sp)
		p.named[n.fullName()] = n
		if d := v.get("doc"); d != nil && d.kind == 's' {
			n.doc = &d.s
		}
		switch t.s {
		case "enum":
			n.typ = "enum"
		case "fixed":
			n.typ = "fixed"
		default:
			n.typ = "record"
			fs := v.get("fields")
			if fs == nil || fs.kind != 'a' {
				return nil, fmt.Errorf("record %s without fields", n.fullName())
			}
			for _, fv := range fs.arr {
				fn := fv.get("name")
				ft := fv.get("type")
				if fn == nil || fn.kind != 's' || ft == nil {
					return nil, fmt.Errorf("record %s: bad field", n.fullName())
				}
				fnode, err := p.node(ft, n.space)
				if err != nil {
					return nil, fmt.Errorf("field %s: %w", fn.s, err)
				}
				f := avroField{name: fn.s, schema: fnode, def: fv.get("default")}
				if d := fv.get("doc"); d != nil && d.kind == 's' {
					f.doc = &d.s
				}
				n.fields = append(n.fields, f)
			}
		}
	case "array", "map":
		key := "items"
		if t.s == "map" {
			key = "values"
		}
		iv := v.get(key)
		if iv == nil {
			return nil, fmt.Errorf("%s without %s", t.s, key)
		}
		items, err := p.node(iv, space)
		if err != nil {
			return nil, err
		}
		n.items = items
	default:
		if !primitiveTypes[t.s] {
			sub, err := p.node(t, space)
			if err != nil {
				return nil, err
			}
			return sub, nil
		}
	}
	for i, k := range v.keys {
		if !reservedKeys[k] {
			n.props = append(n.props, prop{k, v.vals[i]})
		}
	}
	return n, nil
}
