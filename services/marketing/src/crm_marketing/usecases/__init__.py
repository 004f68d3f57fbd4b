"""What marketing does, one module per aggregate. A write takes the unit of work first and the rest
by keyword, and never opens a transaction nor calls another service (`waves.prepare` asks contacts
before the servicer's one unit of work); a read takes a session the same way."""
