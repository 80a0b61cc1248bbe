DROP TABLE measure_list_versions;
DROP TABLE measures;
