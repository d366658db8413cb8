// Package search is keyword search's pure core: which keywords a file is
// published under (Keywords: case-folded, diacritics removed, short and
// stop words dropped), which keyword a query looks up (Rarest), which
// records match a query (Match), and how results rank (Ranker). It does no
// I/O, reads no clock and logs nothing; ties break on stable keys. It
// imports only the standard library: share.Keywords, its shell, feeds it
// the Hits node's adapter makes of dht records.
package search
