DROP TABLE measures;
