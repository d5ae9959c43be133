"""Operations: cases (being moved behind the service API)."""
