"""Operations: compliance (being moved behind the service API)."""
