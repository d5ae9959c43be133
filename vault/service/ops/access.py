"""Operations: access (being moved behind the service API)."""
