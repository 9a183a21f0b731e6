"""Wire types: REST bodies and WebSocket messages. Data only, no behaviour."""
