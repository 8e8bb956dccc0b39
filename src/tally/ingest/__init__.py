"""Events in: validate a request's events, apply the rate limit, append them to the buffer."""
