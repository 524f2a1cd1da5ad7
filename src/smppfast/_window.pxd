# What the drivers' compiled helpers may read of the window's events.

cdef class ResponseReceived:
    cdef readonly object request
    cdef readonly object response
    cdef readonly object token
    cdef readonly double sent_at
