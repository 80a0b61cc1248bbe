DROP TABLE handout_assessments;
