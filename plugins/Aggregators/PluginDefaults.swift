import FedKit

extension Plugin {
    /// `parameters` with every declared default filled in: YAML resolution already does this,
    /// plugins built in code (tests, other plugins) may pass fewer.
    static func withDefaults(_ parameters: Parameters) -> Parameters {
        var filled = parameters
        for spec in descriptor.parameters where filled[spec.name] == nil {
            if let value = spec.defaultValue { filled.set(spec.name, value) }
        }
        return filled
    }
}
