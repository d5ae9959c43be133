"""Operations: station (being moved behind the service API)."""
