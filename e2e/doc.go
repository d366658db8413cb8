// Package e2e holds end-to-end tests of the enxame binary: they build it
// once, run daemons with separate homes on loopback, and drive them through
// the command line as a user would. It has no non-test code.
package e2e
