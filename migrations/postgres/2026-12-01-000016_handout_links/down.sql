DROP TABLE handout_links;
