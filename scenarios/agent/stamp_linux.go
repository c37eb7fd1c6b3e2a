package agent

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// stampOOB is the control-message space for one SCM_TIMESTAMPNS.
var stampOOB = unix.CmsgSpace(int(unsafe.Sizeof(unix.Timespec{})))

// enableRecvStamps asks the kernel to stamp every datagram the socket
// receives (SO_TIMESTAMPNS): the stamp is taken when the frame arrives,
// before the agent is scheduled to read it.
func enableRecvStamps(fd uintptr) error {
	return unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
}

// recvStamp is the kernel receive time in a datagram's control messages,
// zero when there is none.
func recvStamp(oob []byte) time.Time {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
			ts := *(*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
			return time.Unix(ts.Unix())
		}
	}
	return time.Time{}
}
