# The embedded stack's ACL tool (deploy/local/KafkaSecurity.java) for deploy/compose.yaml's
# one-shot `kafka-security`: compiled against the broker image's own jars, run on its JRE.
FROM apache/kafka:4.1.1 AS kafka

FROM eclipse-temurin:21-jdk-alpine AS build
COPY --from=kafka /opt/kafka/libs /opt/kafka/libs
COPY deploy/local/KafkaSecurity.java /src/
RUN javac --release 17 -cp '/opt/kafka/libs/*' -d /classes /src/KafkaSecurity.java

FROM apache/kafka:4.1.1
COPY --from=build /classes /opt/commande
# Arguments: <admin client properties> <spec> <super user> (compose.yaml gives them).
ENTRYPOINT ["java", "-cp", "/opt/commande:/opt/kafka/libs/*", "KafkaSecurity"]
