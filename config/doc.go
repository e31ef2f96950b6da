// Package config loads Sluice's YAML configuration and reports problems with
// it precisely.
//
// There is one loader ([Load], [Decode]) for every configuration struct. It
// decodes onto a struct already filled with defaults, so keys absent from the
// file keep their default. Before decoding it expands ${VAR} and
// ${VAR:-default} in scalar values ($${ is a literal "${"), rejects keys the
// struct does not know (suggesting the closest known key) and checks every
// value's type. It then calls the struct's Validate method, if any, and maps
// each [FieldError] path back to the line of the YAML node it names.
//
// Every problem found is reported at once, in line order, as an [*Error]
// whose lines read "FILE:LINE: path: problem".
//
// Packages describe their own settings with a plain Config struct, yaml tags
// and a Validate method built on [Problems]; this package imports nothing
// internal so that any of them can use it.
package config
