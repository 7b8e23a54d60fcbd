"""What was promised: mining-right registry, annual plans, 三调 land classes, 拐点坐标."""
