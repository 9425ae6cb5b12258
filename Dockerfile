# The operator image the Helm chart runs: `aim-engine` on a distroless base, as user 65532.
#   docker build -t <registry>/aim-engine:<version> .
FROM rust:1.95-bookworm AS build
# The default policy is compiled to WebAssembly and embedded by the build.
RUN rustup target add wasm32-wasip2
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p aim-engine

# glibc and libgcc, nothing else: no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/aim-engine /usr/local/bin/aim-engine
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/aim-engine"]
CMD ["run"]
