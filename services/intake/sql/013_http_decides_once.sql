-- A referral received over HTTP is decided in its request (the same rules as one from Kafka,
-- once): nothing is ever pending, so the submissions waiting for an answer are not kept.
DROP TABLE http_submissions;
