DROP TABLE measure_list_versions;
DROP TABLE measures;
DROP FUNCTION measures_list_version();
DROP FUNCTION bump_measure_list_version(BIGINT);
