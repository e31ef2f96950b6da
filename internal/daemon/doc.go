// Package daemon assembles a Sluice process: it composes the packages'
// configurations into the sluice.yaml schema ([Config]) and, in later
// steps, wires and supervises sources, the publisher and the HTTP server.
package daemon
