// The peer of the benchmark: the Neo4j GraphQL Library on Apollo Server, over the hub's own Neo4j database.
// No authorization: it answers every query with everything it finds. One Node.js process, as the hub is one
// Python process. Configured by environment: PEER_PORT, NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD_FILE.
import { readFileSync } from "node:fs";

import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { Neo4jGraphQL } from "@neo4j/graphql";
import neo4j from "neo4j-driver";

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set`);
    process.exit(2);
  }
  return value;
};

const typeDefs = readFileSync(new URL("./schema.graphql", import.meta.url), "utf8");
const password = readFileSync(env("NEO4J_PASSWORD_FILE"), "utf8").trim();
const driver = neo4j.driver(env("NEO4J_URI"), neo4j.auth.basic(process.env.NEO4J_USER || "neo4j", password));

const neoSchema = new Neo4jGraphQL({ typeDefs, driver });
const schema = await neoSchema.getSchema();
// Refuses to start on a Neo4j version or plugin set the library does not support.
await neoSchema.checkNeo4jCompat();

const server = new ApolloServer({ schema });
const { url } = await startStandaloneServer(server, {
  listen: { host: "127.0.0.1", port: Number(env("PEER_PORT")) },
});
console.log(`peer ready at ${url}`);

const stop = async () => {
  await server.stop();
  await driver.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
