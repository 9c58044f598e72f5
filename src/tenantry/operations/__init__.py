"""Operations: schema drift, data consistency and slow-query reports (`tenantry doctor`)."""
