"""Operations: principal (being moved behind the service API)."""
