package cli

import "golang.org/x/sys/unix"

// clockSynced asks the kernel whether the system clock is disciplined by
// a time service (NTP, chrony, systemd-timesyncd): adjtimex's STA_UNSYNC
// flag, which is what timedatectl shows as "System clock synchronized".
// known is false when the kernel does not say.
func clockSynced() (synced, known bool) {
	var tx unix.Timex
	if _, err := unix.Adjtimex(&tx); err != nil {
		return false, false
	}
	return tx.Status&unix.STA_UNSYNC == 0, true
}
