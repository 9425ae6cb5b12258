
export const planner = {
  planService(observation) {
    const plan = JSON.parse(defaults.plan('service', observation));
    const { service } = JSON.parse(observation);
    const team = label(service, TEAM_LABEL);
    if (team !== undefined) {
      for (const object of [...objects(plan, 'InferenceService'), ...objects(plan, 'HTTPRoute')]) {
        setLabel(object, TEAM_LABEL, sanitizeLabelValue(team));
      }
    } else if (!service.metadata?.deletionTimestamp) {
      warn(
        plan,
        'NoTeam',
        `AIMService ${name(service)} has no ${TEAM_LABEL} label; its objects cannot be charged to a team`,
      );
    }
    return JSON.stringify(plan);
  },
  // `unsupported`: the default policy plans these.
  planTemplate() { throw { tag: 'unsupported' }; },
  planModel() { throw { tag: 'unsupported' }; },
  planTemplateCache() { throw { tag: 'unsupported' }; },
  planModelCache() { throw { tag: 'unsupported' }; },
};
