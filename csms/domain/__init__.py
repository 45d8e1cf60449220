"""Version-neutral domain core: stations, EVSEs, connectors, id tokens, transactions and meter samples."""
