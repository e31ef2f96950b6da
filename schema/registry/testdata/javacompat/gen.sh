#!/bin/sh
# Regenerates ../compat_java.golden with Apache Avro's Java
# SchemaCompatibility (org.apache.avro:avro from Maven Central).
set -eu
cd "$(dirname "$0")"
AVRO=1.11.4
mvn -q dependency:get -Dartifact=org.apache.avro:avro:$AVRO >/dev/null
M2=${HOME}/.m2/repository
# avro's runtime needs for Schema parsing: jackson and slf4j.
CP=$M2/org/apache/avro/avro/$AVRO/avro-$AVRO.jar
for j in $(find "$M2/com/fasterxml/jackson/core" -name 'jackson-*-2.14.*.jar' | grep -v sources | sort) \
         $(find "$M2/org/slf4j/slf4j-api" -name 'slf4j-api-1.7.36.jar'); do
  CP=$CP:$j
done
java -cp "$CP" Compat.java ../compat_pairs.json > ../compat_java.golden
