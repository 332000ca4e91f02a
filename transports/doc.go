// Package transports will hold goloop's stream, datagram, pipe and
// subprocess transports, servers and sock_* operations (issues 4 and 5).
// Until then the Python layer raises NotImplementedError for those methods.
package transports
